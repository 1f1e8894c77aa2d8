// SPDX-License-Identifier: GPL-2.0
/*
 * Aligned plain-text tables. Cells are copied strings; widths are computed
 * at print time so columns fit the widest cell (IPv6 addresses vary a lot).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

struct table {
	int ncols;
	size_t nrows, cap;
	int ncell;		/* cells of the row being filled */
	char **cells;		/* (nrows + 1) * ncols, row 0 = headers */
	bool *right;
};

static int grow(struct table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 16;
	char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));

	if (!c)
		return -ENOMEM;
	t->cells = c;
	t->cap = cap;
	return 0;
}

struct table *table_new(int ncols, ...)
{
	struct table *t = calloc(1, sizeof(*t));
	va_list ap;
	int i;

	if (!t)
		return NULL;
	t->ncols = ncols;
	t->right = calloc(ncols, sizeof(*t->right));
	if (!t->right || grow(t)) {
		table_free(t);
		return NULL;
	}
	va_start(ap, ncols);
	for (i = 0; i < ncols; i++) {
		const char *h = va_arg(ap, const char *);

		t->right[i] = h[0] == '>';
		t->cells[i] = strdup(h + t->right[i]);
	}
	va_end(ap);
	t->nrows = 1;
	return t;
}

int table_cell(struct table *t, const char *fmt, ...)
{
	size_t n = t->nrows * t->ncols + t->ncell;
	va_list ap;
	int ret;

	if (t->ncell == 0 && t->nrows == t->cap && grow(t))
		return -ENOMEM;
	va_start(ap, fmt);
	ret = vasprintf(&t->cells[n], fmt, ap);
	va_end(ap);
	if (ret < 0) {
		t->cells[n] = NULL;
		return -ENOMEM;
	}
	if (++t->ncell == t->ncols) {
		t->ncell = 0;
		t->nrows++;
	}
	return 0;
}

void table_print(struct table *t, FILE *f)
{
	size_t r, w[16] = {};
	int i;

	for (r = 0; r < t->nrows; r++)
		for (i = 0; i < t->ncols && i < 16; i++) {
			size_t l = strlen(t->cells[r * t->ncols + i]);

			if (l > w[i])
				w[i] = l;
		}
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols && i < 16; i++) {
			const char *c = t->cells[r * t->ncols + i];
			int last = i == t->ncols - 1;

			if (t->right[i])
				fprintf(f, "%*s%s", (int)w[i], c, last ? "" : "  ");
			else if (last)
				fputs(c, f);
			else
				fprintf(f, "%-*s  ", (int)w[i], c);
		}
		fputc('\n', f);
	}
}

void table_free(struct table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; t->cells && i < t->nrows * t->ncols + t->ncell; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->right);
	free(t);
}
