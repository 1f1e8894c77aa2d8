/* SPDX-License-Identifier: GPL-2.0 */
/* Aligned plain-text tables for people: add rows, print once. */
#ifndef CHLB_TABLE_H
#define CHLB_TABLE_H

#include <stdio.h>

struct table;

/* ncols headers follow; a header starting with '>' is right-aligned. */
struct table *table_new(int ncols, ...);
/* Append one printf-formatted cell; rows wrap every ncols cells. */
int table_cell(struct table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void table_print(struct table *t, FILE *f);
void table_free(struct table *t);

#endif /* CHLB_TABLE_H */
