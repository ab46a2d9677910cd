// Thread count and pinning: one OpenMP thread per physical core (hwloc), unless told otherwise.
#ifndef CALM_THREADS_H
#define CALM_THREADS_H

int calm_physical_cores(void);
// Sets the OpenMP thread count (n <= 0: physical cores) and pins thread i to core i.
// Returns the count in use.
int calm_threads_init(int n);

#endif
