/* datafs.c - WIRE_FSOP: to be written. */
#include "node.h"
#include <errno.h>

void
datafs_op(struct node *n, struct vmnode *vm, struct wire_msg *m)
{
	node_send(n, WIRE_REPLY, m->vm, m->tag,
		  g_variant_new("(is)", ENOSYS, "not yet"));
}
