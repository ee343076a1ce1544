package api

import (
	"bytes"
	"io"
	"strings"

	"github.com/VictoriaMetrics/metrics"
)

// processFamilies gives the type and help of each family of the Go runtime and process
// metrics that VictoriaMetrics/metrics writes (metrics.WriteGoMetrics, WriteProcMetrics,
// WriteFDMetrics), which it writes without them. Its names follow client_golang's, but
// for go_cgo_calls_count and go_gc_forced_count, counters whose names lack _total.
var processFamilies = map[string]struct{ typ, help string }{
	"go_sched_latencies_seconds":          {"histogram", "Time goroutines spent runnable before running (runtime/metrics /sched/latencies:seconds; buckets above 1 s are folded into +Inf, and there is no _sum or _count)."},
	"go_gc_pauses_seconds":                {"histogram", "Stop-the-world pauses of the garbage collector (runtime/metrics /gc/pauses:seconds; buckets above 1 s are folded into +Inf, and there is no _sum or _count)."},
	"go_mutex_wait_seconds_total":         {"counter", "Time goroutines spent blocked on a sync.Mutex, sync.RWMutex or runtime-internal lock."},
	"go_gc_mark_assist_cpu_seconds_total": {"counter", "CPU time goroutines spent helping the garbage collector mark (an estimate by the runtime)."},
	"go_gc_cpu_seconds_total":             {"counter", "CPU time spent in the garbage collector, assists included (an estimate by the runtime)."},
	"go_scavenge_cpu_seconds_total":       {"counter", "CPU time spent returning unused memory to the operating system (an estimate by the runtime)."},
	"go_memlimit_bytes":                   {"gauge", "The Go runtime's soft memory limit (GOMEMLIMIT, memory_limit_mb)."},
	"go_memstats_alloc_bytes":             {"gauge", "Bytes of allocated heap objects."},
	"go_memstats_alloc_bytes_total":       {"counter", "Bytes allocated for heap objects, freed ones included."},
	"go_memstats_buck_hash_sys_bytes":     {"gauge", "Bytes of memory in profiling bucket hash tables."},
	"go_memstats_frees_total":             {"counter", "Heap objects freed."},
	"go_memstats_gc_cpu_fraction":         {"gauge", "Fraction of the CPU time available to the program used by the garbage collector since the program started."},
	"go_memstats_gc_sys_bytes":            {"gauge", "Bytes of memory in garbage collection metadata."},
	"go_memstats_heap_alloc_bytes":        {"gauge", "Bytes of allocated heap objects."},
	"go_memstats_heap_idle_bytes":         {"gauge", "Bytes in idle (unused) heap spans."},
	"go_memstats_heap_inuse_bytes":        {"gauge", "Bytes in in-use heap spans."},
	"go_memstats_heap_objects":            {"gauge", "Allocated heap objects."},
	"go_memstats_heap_released_bytes":     {"gauge", "Bytes of physical memory returned to the operating system."},
	"go_memstats_heap_sys_bytes":          {"gauge", "Bytes of heap memory obtained from the operating system."},
	"go_memstats_last_gc_time_seconds":    {"gauge", "When the last garbage collection finished, in seconds since the Unix epoch."},
	"go_memstats_lookups_total":           {"counter", "Pointer lookups performed by the runtime."},
	"go_memstats_mallocs_total":           {"counter", "Heap objects allocated."},
	"go_memstats_mcache_inuse_bytes":      {"gauge", "Bytes of allocated mcache structures."},
	"go_memstats_mcache_sys_bytes":        {"gauge", "Bytes of memory obtained from the operating system for mcache structures."},
	"go_memstats_mspan_inuse_bytes":       {"gauge", "Bytes of allocated mspan structures."},
	"go_memstats_mspan_sys_bytes":         {"gauge", "Bytes of memory obtained from the operating system for mspan structures."},
	"go_memstats_next_gc_bytes":           {"gauge", "Heap size at which the next garbage collection will run."},
	"go_memstats_other_sys_bytes":         {"gauge", "Bytes of memory in other runtime allocations."},
	"go_memstats_stack_inuse_bytes":       {"gauge", "Bytes in stack spans."},
	"go_memstats_stack_sys_bytes":         {"gauge", "Bytes of stack memory obtained from the operating system."},
	"go_memstats_sys_bytes":               {"gauge", "Bytes of memory obtained from the operating system in all."},
	"go_cgo_calls_count":                  {"counter", "Calls from Go to C made by the process."},
	"go_cpu_count":                        {"gauge", "Logical CPUs usable by the process (runtime.NumCPU)."},
	"go_gc_duration_seconds":              {"summary", "Stop-the-world pauses of the last 256 garbage collections: quantiles 0 to 1, with the sum and count of all pauses."},
	"go_gc_forced_count":                  {"counter", "Garbage collections forced by the application (runtime.GC)."},
	"go_gomaxprocs":                       {"gauge", "GOMAXPROCS: the threads that may run Go code at once (go_max_procs)."},
	"go_goroutines":                       {"gauge", "Goroutines that exist."},
	"go_threads":                          {"gauge", "Operating system threads created."},
	"go_info":                             {"gauge", "Always 1; the version label holds the Go version that built the binary."},
	"go_info_ext":                         {"gauge", "Always 1; the labels hold the compiler, GOARCH, GOOS and GOROOT that built the binary."},

	"process_cpu_seconds_system_total":              {"counter", "CPU time the process spent in the kernel."},
	"process_cpu_seconds_total":                     {"counter", "CPU time the process spent, user and system."},
	"process_cpu_seconds_user_total":                {"counter", "CPU time the process spent in user space."},
	"process_major_pagefaults_total":                {"counter", "Page faults that needed a read from disk."},
	"process_minor_pagefaults_total":                {"counter", "Page faults served without a read from disk."},
	"process_num_threads":                           {"gauge", "Operating system threads of the process."},
	"process_resident_memory_bytes":                 {"gauge", "Resident memory of the process (RSS), file-backed pages (Badger's mapped files) included."},
	"process_start_time_seconds":                    {"gauge", "When the process started, in seconds since the Unix epoch."},
	"process_virtual_memory_bytes":                  {"gauge", "Virtual memory of the process."},
	"process_virtual_memory_peak_bytes":             {"gauge", "Peak virtual memory of the process."},
	"process_resident_memory_peak_bytes":            {"gauge", "Peak resident memory of the process."},
	"process_resident_memory_anon_bytes":            {"gauge", "Anonymous resident memory of the process (the Go heap and stacks): what grows if memory leaks."},
	"process_resident_memory_file_bytes":            {"gauge", "File-backed resident memory of the process (page cache of mapped files, which the kernel can reclaim)."},
	"process_resident_memory_shared_bytes":          {"gauge", "Shared resident memory of the process."},
	"process_io_read_bytes_total":                   {"counter", "Bytes the process read through system calls, page cache hits included."},
	"process_io_written_bytes_total":                {"counter", "Bytes the process wrote through system calls."},
	"process_io_read_syscalls_total":                {"counter", "Read system calls of the process."},
	"process_io_write_syscalls_total":               {"counter", "Write system calls of the process."},
	"process_io_storage_read_bytes_total":           {"counter", "Bytes the process caused to be read from storage."},
	"process_io_storage_written_bytes_total":        {"counter", "Bytes the process caused to be written to storage."},
	"process_pressure_cpu_waiting_seconds_total":    {"counter", "Time some of the cgroup's tasks waited for a CPU (pressure stall information) since the process started."},
	"process_pressure_cpu_stalled_seconds_total":    {"counter", "Time all of the cgroup's tasks waited for a CPU (pressure stall information) since the process started."},
	"process_pressure_io_waiting_seconds_total":     {"counter", "Time some of the cgroup's tasks waited for I/O (pressure stall information) since the process started."},
	"process_pressure_io_stalled_seconds_total":     {"counter", "Time all of the cgroup's tasks waited for I/O (pressure stall information) since the process started."},
	"process_pressure_memory_waiting_seconds_total": {"counter", "Time some of the cgroup's tasks waited for memory (pressure stall information) since the process started."},
	"process_pressure_memory_stalled_seconds_total": {"counter", "Time all of the cgroup's tasks waited for memory (pressure stall information) since the process started."},
	"process_cgroup_cpu_throttled_seconds_total":    {"counter", "Time the cgroup's CPU quota held the process back since the process started."},
	"process_max_fds":                               {"gauge", "The process's limit on open file descriptors."},
	"process_open_fds":                              {"gauge", "File descriptors the process has open (connections and Badger's files)."},
}

// undescribed is the help of a runtime or process family missing from processFamilies
// (one that a newer VictoriaMetrics/metrics writes); TestProcessMetricsDescribed fails on it.
const undescribed = "Written by github.com/VictoriaMetrics/metrics; not described by nextbest yet."

// writeProcessMetrics writes the Go runtime and process metrics of VictoriaMetrics/metrics
// with the # HELP and # TYPE lines it leaves out, taken from processFamilies (or, for a
// family missing there, the type its samples show and the help undescribed).
func writeProcessMetrics(w io.Writer) {
	var buf bytes.Buffer
	metrics.WriteGoMetrics(&buf)
	metrics.WriteProcMetrics(&buf)
	metrics.WriteFDMetrics(&buf)
	var fam, typ string
	for line := range strings.Lines(buf.String()) {
		if strings.HasPrefix(line, "#") {
			continue // with ExposeMetadata(true), its own metadata
		}
		end := strings.IndexAny(line, "{ ")
		if end <= 0 {
			continue // not a sample
		}
		if name := line[:end]; fam == "" || !sameFamily(name, fam, typ) {
			help := undescribed
			fam, typ = inferFamily(name, line)
			if d, ok := processFamilies[name]; ok {
				fam, typ, help = name, d.typ, d.help
			} else if d, ok := processFamilies[fam]; ok {
				typ, help = d.typ, d.help
			}
			writeMetadata(w, fam, typ, help)
		}
		io.WriteString(w, line)
	}
}

// sameFamily reports whether a sample named name belongs to family fam of type typ: a
// histogram's and a summary's samples carry suffixes.
func sameFamily(name, fam, typ string) bool {
	if name == fam {
		return true
	}
	suffix, ok := strings.CutPrefix(name, fam)
	switch {
	case !ok:
		return false
	case typ == "histogram":
		return suffix == "_bucket" || suffix == "_sum" || suffix == "_count"
	case typ == "summary":
		return suffix == "_sum" || suffix == "_count"
	}
	return false
}

// inferFamily returns the family and type that a sample line shows: a histogram for
// name_bucket{...le=...}, a summary for {quantile=...}, a counter for a name ending in
// _total, else a gauge.
func inferFamily(name, line string) (fam, typ string) {
	switch {
	case strings.HasSuffix(name, "_bucket") && strings.Contains(line, `le="`):
		return strings.TrimSuffix(name, "_bucket"), "histogram"
	case strings.Contains(line, `quantile="`):
		return name, "summary"
	case strings.HasSuffix(name, "_total"):
		return name, "counter"
	}
	return name, "gauge"
}
