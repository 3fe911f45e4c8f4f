/*
 * test_hmap.c - unit tests for common/hmap.c.
 *
 * Purpose:      put/get/replace/delete/iterate 10000 keys through several
 *               table growths; iteration visits every live key exactly
 *               once; deleting half keeps the other half reachable;
 *               hmap_clear leaves a table that can be initialised again.
 * Used by:      t/00-unit.t (build/t/test_hmap).
 * Trust:        test code.
 * Spool access: none.
 * See:          common/hmap.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "tap.h"
#include "util.h"

#define NKEYS	10000

static char	 keys[NKEYS][16];
static int	 vals[NKEYS];

static void
mkkeys(void)
{
	int i;

	for (i = 0; i < NKEYS; i++) {
		snprintf(keys[i], sizeof(keys[i]), "key-%d", i);
		vals[i] = i;
	}
}

/* key_index - "key-N" to N, or -1 */
static int
key_index(const char *k)
{
	int n;

	if (sscanf(k, "key-%d", &n) != 1 || n < 0 || n >= NKEYS)
		return -1;
	return n;
}

static void
test_basic(void)
{
	struct hmap	 h;
	int		 a = 1, b = 2;

	hmap_init(&h);
	ok(hmap_get(&h, "missing") == NULL, "get on an empty map is NULL");
	ok(hmap_del(&h, "missing") == NULL, "del on an empty map is NULL");
	hmap_put(&h, "x", &a);
	ok(hmap_get(&h, "x") == &a, "get after put");
	is_int(h.count, 1, "count 1");
	hmap_put(&h, "x", &b);
	ok(hmap_get(&h, "x") == &b, "put on an existing key replaces");
	is_int(h.count, 1, "replace does not add");
	hmap_put(&h, "", &a);
	ok(hmap_get(&h, "") == &a, "the empty string is a key");
	ok(hmap_get(&h, "X") == NULL, "keys are case-sensitive");
	ok(hmap_del(&h, "x") == &b, "del returns the value");
	ok(hmap_get(&h, "x") == NULL, "get after del is NULL");
	ok(hmap_del(&h, "x") == NULL, "second del is NULL");
	is_int(h.count, 1, "count after del");
	hmap_clear(&h);
	ok(h.tab == NULL && h.count == 0 && h.size == 0, "clear empties");
}

static void
test_many(void)
{
	struct hmap	 h;
	struct hmap_ent	*e;
	unsigned char	*seen;
	size_t		 it;
	int		 i, bad, n, dup;

	hmap_init(&h);
	for (i = 0; i < NKEYS; i++)
		hmap_put(&h, keys[i], &vals[i]);
	is_int(h.count, NKEYS, "%d keys stored", NKEYS);
	ok(h.size >= NKEYS / 2 && (h.size & (h.size - 1)) == 0,
	    "table grew to a power of two (%zu)", h.size);

	for (bad = 0, i = 0; i < NKEYS; i++)
		if (hmap_get(&h, keys[i]) != &vals[i])
			bad++;
	is_int(bad, 0, "every key found with its value");
	ok(hmap_get(&h, "key-10000") == NULL, "a key never put is absent");

	/* Iterate: each key exactly once, with its own value. */
	seen = xcalloc(NKEYS, 1);
	for (n = 0, dup = 0, bad = 0, e = NULL;
	    (e = hmap_next(&h, e, &it)) != NULL; n++) {
		int k = key_index(e->key);
		if (k == -1 || e->val != &vals[k]) {
			bad++;
			continue;
		}
		if (seen[k]++)
			dup++;
	}
	is_int(n, NKEYS, "iteration visits %d entries", NKEYS);
	is_int(dup, 0, "no entry visited twice");
	is_int(bad, 0, "every visited entry has its own value");

	/* Delete the even keys. */
	for (bad = 0, i = 0; i < NKEYS; i += 2)
		if (hmap_del(&h, keys[i]) != &vals[i])
			bad++;
	is_int(bad, 0, "deleting the even keys returns their values");
	is_int(h.count, NKEYS / 2, "half the keys remain");
	for (bad = 0, i = 0; i < NKEYS; i++)
		if (hmap_get(&h, keys[i]) != (i % 2 ? &vals[i] : NULL))
			bad++;
	is_int(bad, 0, "odd keys found, even keys gone");

	memset(seen, 0, NKEYS);
	for (n = 0, bad = 0, e = NULL;
	    (e = hmap_next(&h, e, &it)) != NULL; n++) {
		int k = key_index(e->key);
		if (k == -1 || k % 2 == 0 || seen[k]++)
			bad++;
	}
	is_int(n, NKEYS / 2, "iteration after deletes visits %d", NKEYS / 2);
	is_int(bad, 0, "iteration after deletes sees only odd keys, once");

	/* Replace all odd values; count does not change. */
	for (i = 1; i < NKEYS; i += 2)
		hmap_put(&h, keys[i], &vals[i - 1]);
	is_int(h.count, NKEYS / 2, "replacing keeps the count");
	for (bad = 0, i = 1; i < NKEYS; i += 2)
		if (hmap_get(&h, keys[i]) != &vals[i - 1])
			bad++;
	is_int(bad, 0, "replaced values are returned");

	/* Delete everything, then the map is empty but usable. */
	for (i = 1; i < NKEYS; i += 2)
		hmap_del(&h, keys[i]);
	is_int(h.count, 0, "all deleted");
	e = NULL;
	ok(hmap_next(&h, e, &it) == NULL, "iterating an empty map ends");
	hmap_put(&h, "again", &vals[0]);
	ok(hmap_get(&h, "again") == &vals[0], "usable after emptying");
	hmap_clear(&h);

	/* After clear, init again works. */
	hmap_init(&h);
	hmap_put(&h, keys[5], &vals[5]);
	ok(hmap_get(&h, keys[5]) == &vals[5], "init after clear works");
	hmap_clear(&h);
	free(seen);
}

/* Long keys and keys that differ in one byte stay distinct. */
static void
test_similar(void)
{
	struct hmap	 h;
	char		 k[300];
	int		 i, bad = 0;

	hmap_init(&h);
	memset(k, 'a', sizeof(k) - 1);
	k[sizeof(k) - 1] = '\0';
	for (i = 1; i < 256; i++) {
		k[150] = (char)i;
		hmap_put(&h, k, &vals[i]);
	}
	is_int(h.count, 255, "255 long keys differing in one byte");
	for (i = 1; i < 256; i++) {
		k[150] = (char)i;
		if (hmap_get(&h, k) != &vals[i])
			bad++;
	}
	is_int(bad, 0, "each found");
	hmap_clear(&h);
}

int
main(void)
{
	mkkeys();
	test_basic();
	test_many();
	test_similar();
	return done_testing();
}
