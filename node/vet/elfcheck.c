/*
 * elfcheck.c - tell shared objects, programs and junk apart by their
 * headers.  Only the headers are read: this runs on whatever a user
 * copied into inject/, so it trusts no offset it finds there.
 */
#include "vet.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <gio/gio.h>

#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#else
#define HOST_MACHINE EM_NONE
#endif

static const char *
machine_name(unsigned m)
{
	switch (m) {
	case EM_386: return "i386";
	case EM_X86_64: return "x86-64";
	case EM_ARM: return "ARM";
	case EM_AARCH64: return "AArch64";
	case EM_RISCV: return "RISC-V";
	case EM_PPC64: return "PowerPC64";
	default: return "another machine";
	}
}

static gboolean
refuse(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean
refuse(GError **error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (error)
		*error = g_error_new_valist(G_IO_ERROR,
					    G_IO_ERROR_INVALID_DATA, fmt, ap);
	va_end(ap);
	return FALSE;
}

/* A program without execute permission: EACCES at the client, which
 * may hold it until a chmod +x comes. */
static gboolean
no_exec(GError **error, const char *what)
{
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
		    "%s without execute permission (chmod +x it first)",
		    what);
	return FALSE;
}

/* Does the program header table hold a PT_INTERP entry? */
static int
has_interp(int fd, const Elf64_Ehdr *eh, off_t size)
{
	Elf64_Phdr ph;
	unsigned i;

	if (eh->e_phentsize != sizeof(ph) || eh->e_phnum > 4096)
		return -1;
	if (eh->e_phoff > (Elf64_Off)size ||
	    (Elf64_Off)size - eh->e_phoff <
	    (Elf64_Off)eh->e_phnum * sizeof(ph))
		return -1;
	for (i = 0; i < eh->e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph),
			  eh->e_phoff + (off_t)i * sizeof(ph)) != sizeof(ph))
			return -1;
		if (ph.p_type == PT_INTERP)
			return 1;
	}
	return 0;
}

static gboolean
classify_elf(int fd, off_t size, mode_t mode, enum inject_kind *kind,
	     GError **error)
{
	Elf64_Ehdr eh;
	int interp;

	if (size < (off_t)sizeof(eh) ||
	    pread(fd, &eh, sizeof(eh), 0) != sizeof(eh))
		return refuse(error, "truncated ELF header");
	if (eh.e_ident[EI_CLASS] != ELFCLASS64)
		return refuse(error, "a 32-bit ELF file; this node runs "
			      "64-bit code");
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return refuse(error, "a big-endian ELF file");
	if (HOST_MACHINE != EM_NONE && eh.e_machine != HOST_MACHINE)
		return refuse(error, "built for %s; this node is %s",
			      machine_name(eh.e_machine),
			      machine_name(HOST_MACHINE));
	switch (eh.e_type) {
	case ET_REL:
		return refuse(error, "an object file (.o), not a shared "
			      "object: link it with -shared");
	case ET_CORE:
		return refuse(error, "a core dump");
	case ET_EXEC:
		interp = 1;
		break;
	case ET_DYN:
		interp = has_interp(fd, &eh, size);
		if (interp < 0)
			return refuse(error, "corrupt ELF program headers");
		break;
	default:
		return refuse(error, "an ELF file of unknown type %u",
			      eh.e_type);
	}
	if (!interp) {
		*kind = INJECT_SHARED;
		return TRUE;
	}
	if (!(mode & 0111))
		return no_exec(error, "an executable");
	*kind = INJECT_PROGRAM;
	return TRUE;
}

gboolean
elfcheck_classify(const char *path, mode_t mode, enum inject_kind *kind,
		  GError **error)
{
	unsigned char magic[4] = {0};
	off_t size;
	int fd;
	gboolean ok;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return refuse(error, "cannot open: %s", g_strerror(errno));
	size = lseek(fd, 0, SEEK_END);
	if (size < 4 || pread(fd, magic, 4, 0) != 4) {
		close(fd);
		return refuse(error, "not an ELF file or a #! script (%s)",
			      size == 0 ? "empty" : "too short");
	}
	if (memcmp(magic, ELFMAG, SELFMAG) == 0) {
		ok = classify_elf(fd, size, mode, kind, error);
	} else if (magic[0] == '#' && magic[1] == '!') {
		ok = (mode & 0111) != 0;
		if (ok)
			*kind = INJECT_PROGRAM;
		else
			no_exec(error, "a #! script");
	} else {
		ok = refuse(error, "not an ELF shared object, ELF program or "
			    "#! script");
	}
	close(fd);
	return ok;
}
