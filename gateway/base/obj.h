/* Reference-counted objects (style guide R3).
 *
 * A refcounted type puts `struct tnd_obj` first and is made with
 * tnd_obj_zalloc(); tnd_obj_put() drops a reference, runs the destructor at
 * zero and returns NULL so that `p = tnd_obj_put(p);` releases and clears.
 * Counting is atomic because objects cross between the signalling thread and
 * media workers through tnd_loop_call(). tnd_obj_live() lets the unit test
 * runner fail a test that leaves an object alive. */
#ifndef TND_BASE_OBJ_H
#define TND_BASE_OBJ_H

#include <stddef.h>

typedef void (tnd_obj_destroy_h)(void *obj);

struct tnd_obj {
	_Atomic unsigned long refs;
	tnd_obj_destroy_h *destroy;
};

/* Zeroed object of `size` bytes with one reference; NULL on ENOMEM. */
void *tnd_obj_zalloc(size_t size, tnd_obj_destroy_h *destroy);
/* New reference; NULL-safe. */
void *tnd_obj_get(void *obj);
/* Drops a reference; NULL-safe; always returns NULL. */
void *tnd_obj_put(void *obj);
/* Objects made and not yet destroyed, process-wide. */
long tnd_obj_live(void);

/* Test hook (R11): make the Nth allocation from now fail (0 = never). */
void tnd_obj_fail_after(long n);

#endif
