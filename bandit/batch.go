package bandit

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// updateBatch absorbs a mini-batch of logistic events by Chapelle & Li
// (2011), Algorithm 3:
//
//	w = argmin_w ½ (w−m)ᵀ P (w−m) + Σ_j log(1 + exp(−y_j wᵀx_j)),  y_j ∈ {−1, +1}
//	m ← w,   P ← P + Σ_j p_j(1−p_j) x_j x_jᵀ,   p_j = σ(wᵀx_j),
//
// where for the Diagonal form P is diagonal and only its diagonal gains
// curvature (q_i += Σ_j x_ij² p_j(1−p_j)), exactly as in the paper; for the
// Full form the whole Hessian is kept (batch Laplace approximation). The
// minimisation is Newton's method with the exact Hessian over the
// coordinates the batch touches (for Diagonal the union of active indices;
// the others keep their mean), factorised by gonum's Cholesky, and an Armijo
// backtracking line search (Nocedal & Wright, Numerical Optimization, 2nd
// ed., Algorithm 3.1) because an undamped Newton step can
// overshoot on the logistic loss. It stops when a step is below
// newtonTol·(1+‖w‖∞) or after steps iterations. On error g is unchanged.
func (g *gaussian) updateBatch(xs []Vector, ys []bool, steps int) error {
	// Coordinates touched: local index a ↔ global index coords[a].
	var coords []int32
	local := map[int32]int(nil)
	if g.form == Diagonal {
		for _, x := range xs {
			coords = append(coords, x.Index...)
		}
		slices.Sort(coords)
		coords = slices.Compact(coords)
		local = make(map[int32]int, len(coords))
		for a, i := range coords {
			local[i] = a
		}
	} else {
		coords = make([]int32, g.dim)
		for i := range coords {
			coords[i] = int32(i)
		}
	}
	u := len(coords)
	if u == 0 {
		return nil
	}
	// Events in local coordinates.
	type event struct {
		idx []int
		val []float64
		y   float64
	}
	evs := make([]event, len(xs))
	for j, x := range xs {
		e := event{idx: make([]int, len(x.Index)), val: x.Value[:len(x.Index)]}
		for k, i := range x.Index {
			if local != nil {
				e.idx[k] = local[i]
			} else {
				e.idx[k] = int(i)
			}
		}
		if ys[j] {
			e.y = 1
		}
		evs[j] = e
	}

	// Prior restricted to the coordinates: mean m0, precision A.
	m0 := make([]float64, u)
	for a, i := range coords {
		m0[a] = g.mean[i]
	}
	var A *mat.SymDense
	if g.form == Diagonal {
		A = mat.NewSymDense(u, nil)
		for a, i := range coords {
			A.SetSym(a, a, g.prec[i])
		}
	} else {
		A = g.precisionDense()
	}

	dot := func(e *event, w []float64) float64 {
		var s float64
		for k, a := range e.idx {
			s += e.val[k] * w[a]
		}
		return s
	}
	diff := mat.NewVecDense(u, nil)
	adiff := mat.NewVecDense(u, nil)
	objective := func(w []float64) float64 {
		for a := range u {
			diff.SetVec(a, w[a]-m0[a])
		}
		adiff.MulVec(A, diff)
		f := 0.5 * mat.Dot(diff, adiff)
		for j := range evs {
			z := dot(&evs[j], w)
			f += softplus(z) - evs[j].y*z // −log-likelihood of one event
		}
		return f
	}

	w := slices.Clone(m0)
	trial := make([]float64, u)
	grad := mat.NewVecDense(u, nil)
	dir := mat.NewVecDense(u, nil)
	H := mat.NewSymDense(u, nil)
	var ch mat.Cholesky
	for range steps {
		// Gradient A(w−m) + Σ (p_j − y_j) x_j and Hessian A + Σ p_j(1−p_j) x_j x_jᵀ.
		for a := range u {
			diff.SetVec(a, w[a]-m0[a])
		}
		grad.MulVec(A, diff)
		H.CopySym(A)
		// Raw access: local indices within an event increase, so (a, b) with
		// a ≤ b addresses the upper triangle gonum stores.
		gd := grad.RawVector().Data
		hs := H.RawSymmetric()
		for j := range evs {
			e := &evs[j]
			p := sigmoid(dot(e, w))
			r, c := p-e.y, p*(1-p)
			for k, a := range e.idx {
				gd[a] += r * e.val[k]
				row := hs.Data[a*hs.Stride:]
				cv := c * e.val[k]
				for k2 := k; k2 < len(e.idx); k2++ {
					row[e.idx[k2]] += cv * e.val[k2]
				}
			}
		}
		if ok := ch.Factorize(H); !ok {
			return fmt.Errorf("%w: batch Hessian is not positive definite", ErrInvalidArgument)
		}
		if err := ch.SolveVecTo(dir, grad); err != nil {
			return fmt.Errorf("%w: batch Newton solve: %v", ErrInvalidArgument, err)
		}
		// Newton step is −dir; decrement λ² = gradᵀ H⁻¹ grad.
		var stepMax, wMax float64
		for a := range u {
			stepMax = math.Max(stepMax, math.Abs(dir.AtVec(a)))
			wMax = math.Max(wMax, math.Abs(w[a]))
		}
		if !finite(stepMax) {
			return fmt.Errorf("%w: batch Newton step is not finite", ErrInvalidArgument)
		}
		if stepMax <= newtonTol*(1+wMax) {
			for a := range u {
				w[a] -= dir.AtVec(a)
			}
			break
		}
		decrement := mat.Dot(grad, dir)
		f0 := objective(w)
		accepted := false
		for t := 1.0; t > 1e-10; t *= 0.5 {
			for a := range u {
				trial[a] = w[a] - t*dir.AtVec(a)
			}
			if objective(trial) <= f0-0.25*t*decrement {
				copy(w, trial)
				accepted = true
				break
			}
		}
		if !accepted {
			break // no descent left at rounding level: w is the minimiser
		}
	}

	// Curvature at the minimiser.
	curv := make([]float64, len(evs))
	for j := range evs {
		p := sigmoid(dot(&evs[j], w))
		curv[j] = p * (1 - p)
	}
	for _, v := range w {
		if !finite(v) {
			return fmt.Errorf("%w: batch solution is not finite", ErrInvalidArgument)
		}
	}

	// Commit.
	for a, i := range coords {
		g.mean[i] = w[a]
	}
	switch g.form {
	case Diagonal:
		for j, x := range xs {
			c := curv[j]
			for k, i := range x.Index {
				v := x.Value[k]
				g.prec[i] += c * v * v
			}
		}
		for _, i := range coords {
			g.vari[i] = 1 / g.prec[i]
		}
	case Full:
		work := make([]float64, g.dim)
		for j, x := range xs {
			if curv[j] > 0 && len(x.Index) > 0 {
				k0 := x.scatter(work, math.Sqrt(curv[j]))
				g.cholUpdate(work, k0)
			}
		}
	}
	return nil
}
