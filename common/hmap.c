/*
 * hmap.c - a string-keyed hash table (chained, grows by doubling).
 *
 * Purpose:      see hmap.h.  FNV-1a over a random per-process seed.
 * Used by:      queued.
 * Trust:        see hmap.h.
 * Spool access: none.
 * See:          -
 */
#include <sys/random.h>

#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "util.h"

static uint64_t	 seed;

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL ^ seed;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

void
hmap_init(struct hmap *h)
{
	if (seed == 0 && getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = 0x9e3779b97f4a7c15ULL;
	h->size = 64;
	h->count = 0;
	h->tab = xcalloc(h->size, sizeof(*h->tab));
}

void *
hmap_get(const struct hmap *h, const char *key)
{
	uint64_t	 hv = hash(key);
	struct hmap_ent	*e;

	for (e = h->tab[hv & (h->size - 1)]; e != NULL; e = e->next)
		if (e->hash == hv && strcmp(e->key, key) == 0)
			return e->val;
	return NULL;
}

static void
grow(struct hmap *h)
{
	size_t		  nsize = h->size * 2, i;
	struct hmap_ent	**ntab = xcalloc(nsize, sizeof(*ntab)), *e, *next;

	for (i = 0; i < h->size; i++)
		for (e = h->tab[i]; e != NULL; e = next) {
			next = e->next;
			e->next = ntab[e->hash & (nsize - 1)];
			ntab[e->hash & (nsize - 1)] = e;
		}
	free(h->tab);
	h->tab = ntab;
	h->size = nsize;
}

/* hmap_put - insert or replace */
void
hmap_put(struct hmap *h, const char *key, void *val)
{
	uint64_t	 hv = hash(key);
	struct hmap_ent	*e;

	for (e = h->tab[hv & (h->size - 1)]; e != NULL; e = e->next)
		if (e->hash == hv && strcmp(e->key, key) == 0) {
			e->val = val;
			return;
		}
	if (h->count + 1 > h->size)
		grow(h);
	e = xmalloc(sizeof(*e));
	e->hash = hv;
	e->key = xstrdup(key);
	e->val = val;
	e->next = h->tab[hv & (h->size - 1)];
	h->tab[hv & (h->size - 1)] = e;
	h->count++;
}

void *
hmap_del(struct hmap *h, const char *key)
{
	uint64_t	  hv = hash(key);
	struct hmap_ent	**pp, *e;
	void		 *val;

	for (pp = &h->tab[hv & (h->size - 1)]; (e = *pp) != NULL;
	    pp = &e->next)
		if (e->hash == hv && strcmp(e->key, key) == 0) {
			*pp = e->next;
			val = e->val;
			free(e->key);
			free(e);
			h->count--;
			return val;
		}
	return NULL;
}

void
hmap_clear(struct hmap *h)
{
	size_t		 i;
	struct hmap_ent	*e, *next;

	for (i = 0; i < h->size; i++)
		for (e = h->tab[i]; e != NULL; e = next) {
			next = e->next;
			free(e->key);
			free(e);
		}
	free(h->tab);
	memset(h, 0, sizeof(*h));
}

struct hmap_ent *
hmap_next(const struct hmap *h, struct hmap_ent *e, size_t *i)
{
	if (e == NULL)
		*i = 0;
	else if (e->next != NULL)
		return e->next;
	else
		(*i)++;
	for (; *i < h->size; (*i)++)
		if (h->tab[*i] != NULL)
			return h->tab[*i];
	return NULL;
}
