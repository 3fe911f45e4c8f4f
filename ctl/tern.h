/*
 * tern.h - the command line's shared pieces.
 *
 * Purpose:      requests to the daemons' sockets and output helpers,
 *               shared by tern.c (status, queues, reload) and shaping.c
 *               (the shaping commands).
 * Used by:      tern.
 * Trust:        replies are parsed with jansson.
 * Spool access: none.
 * See:          tern(1).
 */
#ifndef TERN_CTL_H
#define TERN_CTL_H

#include <stdbool.h>

#include <jansson.h>

extern bool	 as_json;
extern char	*run_dir;

void		 need_run_dir(void);
json_t		*request(const char *sock, const char *cmd);
json_t		*request_obj(const char *sock, json_t *req);
const char	*ago(json_int_t, char *, size_t);

/* shaping.c */
void		 shaping_merge(json_t *queues_reply);
int		 shaping_command(int argc, char **argv);

/* classify.c */
int		 classify_command(int argc, char **argv, const char *cfgpath);
int		 suppression_command(int, char **, const char *);

#endif
