package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/procfs"
)

// TestMemoryReadCgroup reads cgroup v1 and v2 memory files from fake trees laid out as
// the kernel's (Documentation/admin-guide/cgroup-v1/memory.rst and cgroup-v2.rst).
func TestMemoryReadCgroup(t *testing.T) {
	write := func(dir string, files map[string]string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	root := t.TempDir()
	// v1: 512 MiB limit, peak 500 MiB (524288000 bytes), limit reached 42 times, one OOM kill.
	write(filepath.Join(root, "memory", "sess", "memtest"), map[string]string{
		"memory.limit_in_bytes":     "536870912\n",
		"memory.max_usage_in_bytes": "524288000\n",
		"memory.failcnt":            "42\n",
		"memory.oom_control":        "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
	})
	// v1 without a limit: the kernel prints the largest page-aligned int64.
	write(filepath.Join(root, "memory", "sess"), map[string]string{
		"memory.limit_in_bytes":     "9223372036854771712\n",
		"memory.max_usage_in_bytes": "1048576\n",
	})
	// v2: 256 MiB limit, peak 128 MiB, 7 times at memory.max, no OOM kill.
	write(filepath.Join(root, "svc", "nextbest"), map[string]string{
		"memory.max":    "268435456\n",
		"memory.peak":   "134217728\n",
		"memory.events": "low 0\nhigh 0\nmax 7\noom 0\noom_kill 0\n",
	})
	write(filepath.Join(root, "svc", "unlimited"), map[string]string{"memory.max": "max\n"})

	for _, tc := range []struct {
		name, procCgroup string
		want             ltCgroupMem
		ok               bool
	}{
		{"v1", "9:name=systemd:/\n4:memory:/sess/memtest\n1:cpu:/\n0::/\n", ltCgroupMem{limit: 512, peak: 500, limitHit: 42, oomKills: 1}, true},
		{"v1 controllers joined", "4:cpu,memory:/sess/memtest\n", ltCgroupMem{limit: 512, peak: 500, limitHit: 42, oomKills: 1}, true},
		{"v1 unlimited", "4:memory:/sess\n0::/\n", ltCgroupMem{}, false},
		{"v2", "0::/svc/nextbest\n", ltCgroupMem{limit: 256, peak: 128, limitHit: 7}, true},
		{"v2 unlimited", "0::/svc/unlimited\n", ltCgroupMem{}, false},
		{"missing files", "0::/nowhere\n", ltCgroupMem{}, false},
		{"empty", "", ltCgroupMem{}, false},
	} {
		got, ok := readCgroupMemory(root, cgroupsOf(t, tc.procCgroup))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: readCgroupMemory = %+v, %t; want %+v, %t", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestMemoryTargetJudged checks which figure the 512 MB target is checked against.
func TestMemoryTargetJudged(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rep     ltMemReport
		measure string
		met     bool
	}{
		{"no cgroup: anonymous peak under", ltMemReport{PeakRSSMB: 2390, PeakAnonMB: 337}, "peak_rss_anon_mb", true},
		{"no cgroup: anonymous peak over", ltMemReport{PeakRSSMB: 2587, PeakAnonMB: 1000}, "peak_rss_anon_mb", false},
		{"no cgroup: exactly the target", ltMemReport{PeakAnonMB: 512}, "peak_rss_anon_mb", true},
		{"512 MB cgroup: VmHWM under", ltMemReport{PeakRSSMB: 496, PeakAnonMB: 347, CgroupLimitMB: 512, CgroupPeakMB: 512}, "peak_rss_mb", true},
		// Pages charged to another cgroup (the executable's, when the load generator runs
		// the same file) count in VmRSS, not in the cgroup.
		{"512 MB cgroup: VmHWM over", ltMemReport{PeakRSSMB: 520, PeakAnonMB: 332, CgroupLimitMB: 512}, "peak_rss_mb", false},
		{"512 MB cgroup: OOM kill", ltMemReport{PeakRSSMB: 400, CgroupLimitMB: 512, CgroupOOMKills: 1}, "peak_rss_mb", false},
		{"larger cgroup: anonymous peak", ltMemReport{PeakRSSMB: 900, PeakAnonMB: 400, CgroupLimitMB: 1024}, "peak_rss_anon_mb", true},
	} {
		r := tc.rep
		r.judge()
		if r.TargetMB != 512 || r.TargetMeasure != tc.measure || r.TargetMet != tc.met {
			t.Errorf("%s: target %v MB against %s, met %t; want 512 MB against %s, met %t", tc.name, r.TargetMB, r.TargetMeasure, r.TargetMet, tc.measure, tc.met)
		}
	}
}

// TestMemoryReportSaysWhatItChecks checks that the printed report separates the figures
// and names the one the target is checked against.
func TestMemoryReportSaysWhatItChecks(t *testing.T) {
	r := ltMemReport{Decisions: 1000, RSSMB: 2390, PeakRSSMB: 2390, AnonMB: 293, PeakAnonMB: 337, FileMB: 2097, PeakFileMB: 2097, FileCleanMB: 2097, HeapInuseMB: 344, GoMemLimitMB: 384}
	r.judge()
	var buf bytes.Buffer
	printMemReport(&buf, &r)
	for _, want := range []string{
		"resident (VmRSS, VmHWM)       2390    2390",
		"anonymous (RssAnon)            293     337",
		"file-backed (RssFile)         2097    2097",
		"Go heap in use                 344       -   Go memory limit 384 MB",
		"target <= 512 MB resident: checked against the peak anonymous memory: 337 MB, met",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("the report lacks %q; it is:\n%s", want, buf.String())
		}
	}
	r.CgroupLimitMB, r.CgroupPeakMB, r.CgroupLimitHit = 512, 512, 315877
	r.judge()
	buf.Reset()
	printMemReport(&buf, &r)
	for _, want := range []string{
		"memory cgroup                    -     512   limit 512 MB, reached 315877 times, 0 OOM kills",
		"target <= 512 MB resident: checked against VmHWM in a 512 MB memory cgroup: 2390 MB, not met",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("the report lacks %q; it is:\n%s", want, buf.String())
		}
	}
}

// cgroupsOf parses a /proc/PID/cgroup file's content with procfs, as procCgroupMemory
// reads the real one: from a fake /proc with that file as process 1's.
func cgroupsOf(t *testing.T, content string) []procfs.Cgroup {
	t.Helper()
	proc := t.TempDir()
	if err := os.MkdirAll(filepath.Join(proc, "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proc, "1", "cgroup"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := procfs.NewFS(proc)
	if err != nil {
		t.Fatal(err)
	}
	p, err := fs.Proc(1)
	if err != nil {
		t.Fatal(err)
	}
	cgroups, err := p.Cgroups()
	if err != nil {
		t.Fatal(err)
	}
	return cgroups
}
