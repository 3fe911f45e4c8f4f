/*
 * hmap.h - a string-keyed hash table (chained, grows by doubling).
 *
 * Purpose:      messages by id, queues by name, transactions by key.
 * Used by:      queued (and later daemons).
 * Trust:        keys may come from peers; hashing is keyed with a random
 *               seed so a peer cannot aim for one chain.
 * Spool access: none.
 * See:          -
 */
#ifndef TERN_HMAP_H
#define TERN_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_ent {
	struct hmap_ent	*next;
	uint64_t	 hash;
	char		*key;
	void		*val;
};

struct hmap {
	struct hmap_ent	**tab;
	size_t		 size;
	size_t		 count;
};

void	 hmap_init(struct hmap *);
void	*hmap_get(const struct hmap *, const char *);
void	 hmap_put(struct hmap *, const char *, void *);
void	*hmap_del(struct hmap *, const char *);
void	 hmap_clear(struct hmap *);
/* Iterate: for (e = NULL; (e = hmap_next(h, e, &i)) != NULL;) */
struct hmap_ent *hmap_next(const struct hmap *, struct hmap_ent *, size_t *);

#endif
