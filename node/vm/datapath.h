/*
 * datapath.h - the check of a path the client names in the VM's data
 * directory (WIRE_FSOP), before anything is opened.  Pure: no file is
 * touched, so tests/fuzz can drive it on its own.
 */
#pragma once

#include <glib.h>

/*
 * Check a client's path and put it in normal form in out: components
 * joined by single slashes, without "." or empty ones; "" is the data
 * directory itself.  Absolute paths and ".." are refused (EPERM), as is
 * a result of PATH_MAX bytes or more (ENAMETOOLONG); 0 if it is good.
 */
int datapath_normalize(const char *path, GString *out);
