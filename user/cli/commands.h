/* SPDX-License-Identifier: GPL-2.0 */
/* Commands added in round 2, beside those declared in cli.h. */
#ifndef CHLB_CLI_COMMANDS_H
#define CHLB_CLI_COMMANDS_H

/*
 * A command that has said everything on stdout and only needs exit status
 * 1 returns this (positive): main() prints no error line.
 */
#define CLI_EXIT_FAILED 1

int do_sync(int argc, char **argv);
int do_config(int argc, char **argv);
int do_daemon(int argc, char **argv);
int do_register(int argc, char **argv);
int do_cluster(int argc, char **argv);
int do_decap(int argc, char **argv);

#endif /* CHLB_CLI_COMMANDS_H */
