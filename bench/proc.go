package bench

import (
	"fmt"
	"runtime"

	"github.com/prometheus/procfs"
)

// cpuSample is the machine's and this process's CPU time so far, in seconds.
type cpuSample struct{ total, idle, self float64 }

// readCPU reads the machine's CPU time (/proc/stat) and this process's
// (/proc/self/stat) through procfs; it returns zeros where they are missing.
func readCPU() cpuSample {
	var c cpuSample
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return c
	}
	if st, err := fs.Stat(); err == nil {
		t := st.CPUTotal
		c.total = t.User + t.Nice + t.System + t.Idle + t.Iowait + t.IRQ + t.SoftIRQ + t.Steal
		c.idle = t.Idle + t.Iowait
	}
	if p, err := fs.Self(); err == nil {
		if ps, err := p.Stat(); err == nil {
			c.self = ps.CPUTime()
		}
	}
	return c
}

// usage returns the percentage of all CPUs busy between c and later, and used by this
// process.
func (c cpuSample) usage(later cpuSample) (busy, self float64) {
	dt := later.total - c.total
	if c.total == 0 || dt <= 0 {
		return 0, 0
	}
	return 100 * (dt - (later.idle - c.idle)) / dt, min(100, 100*(later.self-c.self)/dt)
}

// loadAvg returns the machine's load averages over 1, 5 and 15 minutes.
func loadAvg() string {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return "unknown"
	}
	l, err := fs.LoadAvg()
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.2f %.2f %.2f", l.Load1, l.Load5, l.Load15)
}

// cpuModel returns the first CPU's model name, or runtime.GOARCH.
func cpuModel() string {
	if fs, err := procfs.NewDefaultFS(); err == nil {
		if cpus, err := fs.CPUInfo(); err == nil && len(cpus) > 0 && cpus[0].ModelName != "" {
			return cpus[0].ModelName
		}
	}
	return runtime.GOARCH
}

// ltMemInfo is a process's resident memory in MB: in total (VmRSS), its peak (VmHWM), and
// the anonymous (heap, stacks) and file-backed (mapped Badger tables and logs) parts of
// VmRSS.
type ltMemInfo struct{ rss, hwm, anon, file float64 }

// procMemory reads VmRSS, VmHWM, RssAnon and RssFile of pid (/proc/PID/status).
func procMemory(pid int) (ltMemInfo, error) {
	p, err := procfs.NewProc(pid)
	if err == nil {
		var s procfs.ProcStatus
		if s, err = p.NewStatus(); err == nil {
			const mb = 1 << 20
			return ltMemInfo{rss: float64(s.VmRSS) / mb, hwm: float64(s.VmHWM) / mb, anon: float64(s.RssAnon) / mb, file: float64(s.RssFile) / mb}, nil
		}
	}
	return ltMemInfo{}, fmt.Errorf("read memory of pid %d: %w", pid, err)
}
