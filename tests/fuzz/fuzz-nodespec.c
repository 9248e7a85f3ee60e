/*
 * fuzz-nodespec.c - libFuzzer target for NODE words and host files
 * (fs/cluster/nodespec.c).
 *
 * The input is a host file.  It is read with nodespec_read_file(), and
 * each word it gives, and the whole input up to its first NUL as one
 * command-line word, goes through nodespec_parse().  Checked:
 *
 *   - the words are the file's non-blank runs outside # comments: none
 *     empty, none holding a space, tab, newline or '#', each found in the
 *     text, and no more of them than the text has room for;
 *   - a refused word leaves the spec empty and the error names the word;
 *   - an accepted one has a host of the allowed characters, a name fit
 *     for a directory, a non-empty user, a port in 0-65535, and written
 *     back as NAME=USER@[HOST]:PORT it parses to the same spec; its
 *     nodespec_where() is "[USER@]HOST:PORT" with the port filled in;
 *   - each word, and the whole input, as a node set (nodeset.c, through
 *     nodespec_parse_set()): an expansion holds at most its cap of
 *     names, none empty, none with a comma outside an IPv6 bracket; a
 *     word that is no set expands to itself; refused sets add no spec.
 */
#include "fuzz-util.h"
#include "nodespec.h"
#include "nodeset.h"

#include <string.h>

static char *hostfile;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init(NULL);
	hostfile = g_build_filename(fuzz_tmpdir(), "hosts", NULL);
	return 0;
}

/* The spec as a NODE word: brackets whenever the host has a ':'. */
static char *
spec_text(const struct nodespec *s)
{
	GString *t = g_string_new(NULL);

	if (s->slots)
		g_string_append_printf(t, "%u/", s->slots);
	if (s->name)
		g_string_append_printf(t, "%s=", s->name);
	if (s->user)
		g_string_append_printf(t, "%s@", s->user);
	if (strchr(s->host, ':'))
		g_string_append_printf(t, "[%s]", s->host);
	else
		g_string_append(t, s->host);
	if (s->port)
		g_string_append_printf(t, ":%d", s->port);
	return g_string_free(t, FALSE);
}

static void
check_word(const char *word)
{
	g_autoptr(GError) error = NULL;
	struct nodespec s, again;
	g_autofree char *text = NULL, *where = NULL, *want = NULL;

	if (!nodespec_parse(word, &s, &error)) {
		CHECK(error && strstr(error->message, word));
		CHECK(!s.name && !s.user && !s.host && s.port == 0);
		return;
	}
	CHECK(!error);
	CHECK(s.host && *s.host);
	for (const char *h = s.host; *h; h++)
		CHECK(g_ascii_isalnum(*h) || strchr(".-_:%", *h));
	CHECK(!s.name || nodespec_valid_name(s.name));
	CHECK(!s.name || !strchr(s.name, '='));
	CHECK(!s.user || *s.user);
	CHECK(s.port >= 0 && s.port <= 65535);

	text = spec_text(&s);
	CHECK(nodespec_parse(text, &again, NULL));
	CHECK(g_strcmp0(s.name, again.name) == 0);
	CHECK(g_strcmp0(s.user, again.user) == 0);
	CHECK(strcmp(s.host, again.host) == 0);
	CHECK(s.port == again.port);
	CHECK(s.slots == again.slots);
	CHECK(s.slots <= NODE_MAX_VMS);

	where = nodespec_where(&s);
	want = g_strdup_printf("%s%s%s:%d", s.user ? s.user : "",
			       s.user ? "@" : "", s.host,
			       s.port ? s.port : 22);
	CHECK(strcmp(where, want) == 0);
	nodespec_clear(&again);
	nodespec_clear(&s);
	CHECK(!s.name && !s.user && !s.host && s.port == 0);
}

#define FUZZ_SET_MAX 64	/* small, so the cap is met often */

static void
check_set(const char *word)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) specs = g_ptr_array_new_with_free_func(
		(GDestroyNotify)nodespec_free);
	g_auto(GStrv) names = nodeset_expand(word, FUZZ_SET_MAX, &error);

	if (!names) {
		CHECK(error && strstr(error->message, word));
	} else {
		guint n = g_strv_length(names);

		CHECK(!error);
		CHECK(n >= 1 && n <= FUZZ_SET_MAX);
		for (guint i = 0; i < n; i++) {
			CHECK(*names[i]);
			CHECK(!strchr(names[i], ','));
		}
		if (!nodeset_is_set(word))
			CHECK(n == 1 && strcmp(names[0], word) == 0);
	}
	g_clear_error(&error);
	if (!nodespec_parse_set(word, FUZZ_SET_MAX, specs, &error)) {
		CHECK(error && specs->len == 0);
		return;
	}
	CHECK(!error && specs->len >= 1 && specs->len <= FUZZ_SET_MAX);
	for (guint i = 0; i < specs->len; i++) {
		const struct nodespec *s = specs->pdata[i];

		CHECK(s->host && *s->host);
		CHECK(!s->name || specs->len == 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) words = g_ptr_array_new_with_free_func(g_free);
	g_autofree char *text = g_strndup((const char *)data, size);
	gsize len = strlen(text), total = 0;

	fuzz_write_file(hostfile, data, size);
	CHECK(nodespec_read_file(hostfile, words, &error));
	/* A word takes a byte and a separator after it (but the last). */
	CHECK(words->len <= (len + 1) / 2);
	for (guint i = 0; i < words->len; i++) {
		const char *w = words->pdata[i];

		CHECK(*w);
		CHECK(!strpbrk(w, " \t\n#"));
		CHECK(strstr(text, w));
		total += strlen(w);
		check_word(w);
		check_set(w);
	}
	CHECK(total <= len);
	check_word(text);
	check_set(text);
	return 0;
}
