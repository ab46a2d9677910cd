#include "threads.h"

#include <cblas.h>
#include <hwloc.h>
#include <omp.h>

int calm_physical_cores(void) {
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) || hwloc_topology_load(topo)) return omp_get_num_procs();
    int n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    hwloc_topology_destroy(topo);
    return n > 0 ? n : omp_get_num_procs();
}

int calm_threads_init(int n) {
    hwloc_topology_t topo;
    int have = hwloc_topology_init(&topo) == 0 && hwloc_topology_load(topo) == 0;
    int cores = have ? hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE) : 0;
    if (cores <= 0) cores = omp_get_num_procs();
    if (n <= 0) n = cores;
    omp_set_num_threads(n);
    // Calibration calls BLAS between OpenMP regions; BLAS's own thread pool would fight the
    // OpenMP threads still spinning, so BLAS runs on one thread per call and calm splits the
    // work (quant/algo.c).
    openblas_set_num_threads(1);
    // Pin only when there is a core for every thread; oversubscribed runs are left to the OS.
    if (have && n <= cores) {
#pragma omp parallel num_threads(n)
        {
            hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, omp_get_thread_num());
            if (core) hwloc_set_cpubind(topo, core->cpuset, HWLOC_CPUBIND_THREAD);
        }
    }
    if (have) hwloc_topology_destroy(topo);
    return n;
}
