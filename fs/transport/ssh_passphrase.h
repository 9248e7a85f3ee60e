/*
 * ssh_passphrase.h - passphrases of private key files, asked on the
 * terminal or through SSH_ASKPASS, kept for reconnects (ssh_passphrase.c).
 */
#pragma once

#include <glib.h>

/* Is the private key file encrypted (OpenSSH or PEM format)? */
gboolean ssh_key_encrypted(const char *file);
/* The passphrase of file: kept, or asked now (blocking).  NULL with error
 * when it cannot be asked or the asking was refused. */
const char *ssh_passphrase_get(const char *file, GError **error);
/* The key refused it: ask again next time. */
void ssh_passphrase_forget(const char *file);
