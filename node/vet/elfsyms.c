/*
 * elfsyms.c - list the functions of an injected shared object (see
 * vet.h).
 *
 * The file is whatever a user copied into inject/, so nothing read from
 * it is trusted: every offset, size and count is checked against the file
 * size (without overflow) before it is used, tables are read with pread()
 * into buffers of their checked size, and strings must end within their
 * table.  A table that does not add up is ignored rather than followed.
 */
#include "vet.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gio/gio.h>

#define MAX_SECTIONS 65536
#define MAX_SEGMENTS 4096
#define MAX_TABLE (64u << 20)		/* dynsym or dynstr */
#define MAX_NAME 255
#define DOC_PREFIX "trickle_doc_"

struct elf {
	int fd;
	guint64 size;
	Elf64_Ehdr eh;
	Elf64_Phdr *ph;
	guint nph;
};

void
elf_func_free(struct elf_func *f)
{
	if (!f)
		return;
	g_free(f->name);
	g_free(f->doc);
	g_free(f);
}

/* Is [off, off + len) inside the file? */
static gboolean
in_file(const struct elf *e, guint64 off, guint64 len)
{
	return off <= e->size && len <= e->size - off;
}

static gboolean
read_at(const struct elf *e, void *buf, gsize len, guint64 off)
{
	gsize done = 0;

	if (!in_file(e, off, len))
		return FALSE;
	while (done < len) {
		ssize_t n = pread(e->fd, (char *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FALSE;
		done += n;
	}
	return TRUE;
}

/* A table of count entries of entsize bytes at off, read whole; NULL if
 * it does not fit in the file or the limits. */
static void *
read_table(const struct elf *e, guint64 off, guint64 count, gsize entsize,
	   guint64 max_bytes)
{
	void *buf;

	if (entsize == 0 || count > max_bytes / entsize)
		return NULL;
	if (!in_file(e, off, count * entsize))
		return NULL;
	buf = g_malloc(MAX(count * entsize, 1));
	if (!read_at(e, buf, count * entsize, off)) {
		g_free(buf);
		return NULL;
	}
	return buf;
}

/* The NUL-terminated string at off in a string table, or NULL. */
static const char *
table_string(const char *tab, guint64 tabsize, guint64 off)
{
	if (off >= tabsize || !memchr(tab + off, '\0', tabsize - off))
		return NULL;
	return tab + off;
}

/* A name that can be written as the first word of a call line. */
static gboolean
callable_name(const char *s)
{
	gsize len = strlen(s);

	if (len == 0 || len > MAX_NAME || s[0] == '_' ||
	    !g_utf8_validate(s, len, NULL))
		return FALSE;
	/* The checkpoint hooks (trickle.h) are not functions to call. */
	if (strcmp(s, "trickle_save") == 0 || strcmp(s, "trickle_restore") == 0)
		return FALSE;
	for (; *s; s++)
		if ((guchar)*s <= ' ' || *s == 0x7f || *s == '/' || *s == '=')
			return FALSE;
	return TRUE;
}

/*
 * The bytes at virtual address vaddr, as the loader would map them: the
 * PT_LOAD segment holding it gives the file offset.  Reads at most max
 * bytes and never past the segment's file image or the file.
 */
static gsize
read_vaddr(const struct elf *e, guint64 vaddr, char *buf, gsize max)
{
	guint i;

	for (i = 0; i < e->nph; i++) {
		const Elf64_Phdr *p = &e->ph[i];
		guint64 rel, off, len;

		if (p->p_type != PT_LOAD || vaddr < p->p_vaddr)
			continue;
		rel = vaddr - p->p_vaddr;
		if (rel >= p->p_filesz || rel >= p->p_memsz)
			continue;
		if (p->p_offset > e->size || rel > e->size - p->p_offset)
			return 0;
		off = p->p_offset + rel;
		len = MIN(p->p_filesz - rel, e->size - off);
		len = MIN(len, max);
		return read_at(e, buf, len, off) ? len : 0;
	}
	return 0;
}

/* A doc string fit for one line: valid UTF-8, no control characters,
 * at most ELFSYMS_DOC_MAX bytes. */
static char *
clean_doc(const char *raw, gsize len)
{
	g_autofree char *valid = g_utf8_make_valid(raw, len);
	GString *s = g_string_new(NULL);
	const char *p;

	for (p = valid; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		gsize n = g_utf8_next_char(p) - p;

		if (s->len + n > ELFSYMS_DOC_MAX)
			break;
		if (g_unichar_iscntrl(c))
			g_string_append_c(s, ' ');
		else
			g_string_append_len(s, p, n);
	}
	return g_strstrip(g_string_free(s, FALSE));
}

static char *
read_doc(const struct elf *e, const Elf64_Sym *sym)
{
	char buf[ELFSYMS_DOC_MAX * 4 + 1];
	gsize max = sizeof(buf) - 1, got;
	const char *nul;

	/* The array is st_size bytes, its NUL included. */
	if (sym->st_size > 0 && sym->st_size < max)
		max = sym->st_size;
	got = read_vaddr(e, sym->st_value, buf, max);
	if (got == 0)
		return g_strdup("");
	nul = memchr(buf, '\0', got);
	if (!nul && got < sizeof(buf) - 1)
		return g_strdup("");	/* not a string */
	return clean_doc(buf, nul ? (gsize)(nul - buf) : got);
}

static gint
by_name(gconstpointer a, gconstpointer b)
{
	const struct elf_func *const *fa = a, *const *fb = b;

	return strcmp((*fa)->name, (*fb)->name);
}

static gboolean
read_header(struct elf *e, GError **error)
{
	Elf64_Ehdr *eh = &e->eh;

	if (!read_at(e, eh, sizeof(*eh), 0) ||
	    memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			    "not an ELF file");
		return FALSE;
	}
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			    "not a 64-bit little-endian ELF file");
		return FALSE;
	}
	/* Program headers map doc strings; without them there are none. */
	if (eh->e_phentsize == sizeof(Elf64_Phdr) &&
	    eh->e_phnum <= MAX_SEGMENTS) {
		e->ph = read_table(e, eh->e_phoff, eh->e_phnum,
				   sizeof(Elf64_Phdr), G_MAXUINT64);
		e->nph = e->ph ? eh->e_phnum : 0;
	}
	return TRUE;
}

/* The section headers, or NULL (with *n = 0) if they do not add up. */
static Elf64_Shdr *
read_sections(struct elf *e, guint *n)
{
	guint64 count = e->eh.e_shnum;
	Elf64_Shdr *sh;

	*n = 0;
	if (e->eh.e_shoff == 0 || e->eh.e_shentsize != sizeof(Elf64_Shdr))
		return NULL;
	if (count == 0) {
		/* More than SHN_LORESERVE sections: the count is in the
		 * first header's sh_size. */
		Elf64_Shdr first;

		if (!read_at(e, &first, sizeof(first), e->eh.e_shoff))
			return NULL;
		count = first.sh_size;
	}
	if (count == 0 || count > MAX_SECTIONS)
		return NULL;
	sh = read_table(e, e->eh.e_shoff, count, sizeof(Elf64_Shdr),
			G_MAXUINT64);
	if (sh)
		*n = count;
	return sh;
}

GPtrArray *
elfsyms_functions(const char *path, GError **error)
{
	struct elf e = { .fd = -1 };
	GPtrArray *out = NULL;
	g_autoptr(GHashTable) docs = NULL;	/* name -> Elf64_Sym * */
	g_autoptr(GHashTable) seen = NULL;
	g_autofree Elf64_Shdr *sh = NULL;
	g_autofree Elf64_Sym *syms = NULL;
	g_autofree char *strtab = NULL;
	guint64 nsyms = 0, strsize = 0, i;
	guint nsh = 0, s;
	struct stat st;

	e.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (e.fd < 0 || fstat(e.fd, &st) < 0) {
		int err = errno;

		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
			    "%s: %s", path, g_strerror(err));
		goto out;
	}
	e.size = st.st_size;
	if (!read_header(&e, error))
		goto out;
	out = g_ptr_array_new_with_free_func((GDestroyNotify)elf_func_free);

	sh = read_sections(&e, &nsh);
	for (s = 0; s < nsh; s++) {
		const Elf64_Shdr *d = &sh[s], *l;

		if (d->sh_type != SHT_DYNSYM)
			continue;
		if (d->sh_entsize != sizeof(Elf64_Sym) || d->sh_link >= nsh)
			break;
		l = &sh[d->sh_link];
		if (l->sh_type != SHT_STRTAB || l->sh_size == 0 ||
		    l->sh_size > MAX_TABLE)
			break;
		nsyms = d->sh_size / sizeof(Elf64_Sym);
		syms = read_table(&e, d->sh_offset, nsyms, sizeof(Elf64_Sym),
				  MAX_TABLE);
		strsize = l->sh_size;
		strtab = read_table(&e, l->sh_offset, strsize, 1, MAX_TABLE);
		if (!syms || !strtab)
			nsyms = 0;
		break;
	}

	/* First the doc strings, then the functions they belong to. */
	docs = g_hash_table_new(g_str_hash, g_str_equal);
	for (i = 0; i < nsyms; i++) {
		const Elf64_Sym *y = &syms[i];
		const char *name = table_string(strtab, strsize, y->st_name);

		if (!name || !g_str_has_prefix(name, DOC_PREFIX) ||
		    ELF64_ST_TYPE(y->st_info) != STT_OBJECT ||
		    ELF64_ST_BIND(y->st_info) != STB_GLOBAL ||
		    y->st_shndx == SHN_UNDEF || y->st_shndx == SHN_ABS)
			continue;
		g_hash_table_insert(docs, (char *)name + strlen(DOC_PREFIX),
				    (gpointer)y);
	}
	seen = g_hash_table_new(g_str_hash, g_str_equal);
	for (i = 0; i < nsyms; i++) {
		const Elf64_Sym *y = &syms[i], *doc;
		const char *name = table_string(strtab, strsize, y->st_name);
		struct elf_func *f;

		if (!name || ELF64_ST_TYPE(y->st_info) != STT_FUNC ||
		    ELF64_ST_BIND(y->st_info) != STB_GLOBAL ||
		    y->st_shndx == SHN_UNDEF ||
		    ELF64_ST_VISIBILITY(y->st_other) == STV_HIDDEN ||
		    ELF64_ST_VISIBILITY(y->st_other) == STV_INTERNAL ||
		    !callable_name(name) ||
		    g_str_has_prefix(name, DOC_PREFIX) ||
		    !g_hash_table_add(seen, (char *)name))
			continue;
		f = g_new0(struct elf_func, 1);
		f->name = g_strdup(name);
		doc = g_hash_table_lookup(docs, name);
		f->doc = doc ? read_doc(&e, doc) : g_strdup("");
		g_ptr_array_add(out, f);
	}
	g_ptr_array_sort(out, by_name);
out:
	if (e.fd >= 0)
		close(e.fd);
	g_free(e.ph);
	return out;
}
