/*
 * ssh_methods.h - which algorithms an SSH session may negotiate.
 */
#pragma once

#include <glib.h>
#include <libssh2.h>

/* Before the handshake: let ssh offer only our key exchanges, ciphers and
 * MACs, and the host key types hostkeys lists (comma-separated), each in
 * our order of preference.  FALSE if this libssh2 has none of a kind.
 * where ("host:port") is for messages. */
gboolean ssh_methods_pin(LIBSSH2_SESSION *ssh, const char *hostkeys,
			 const char *where, GError **error);
