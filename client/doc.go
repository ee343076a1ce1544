// Package client is the Go client of nextbest's HTTP API (v1): one method per route,
// taking a context first, sending the request bodies of package wire and returning the
// engine's domain types (engine.DecideResult, engine.Action, engine.Report, ...).
//
//	c := client.New("http://127.0.0.1:8080", client.WithKey(os.Getenv("NEXTBEST_KEY")))
//	res, err := c.Decide(ctx, wire.DecideRequest{CustomerID: "c1", Channel: "web"})
//	if errors.Is(err, engine.ErrInvalid) {
//		// a 400: engine.ErrorCode(err) says which ("invalid_field", ...)
//	}
//
// # Errors
//
// An answer with a status other than 2xx comes back as an *Error. It wraps the server's
// error as an *engine.Error whose Kind is the engine's sentinel for the status (the
// inverse of the server's one mapping in package api): 400 engine.ErrInvalid, 401
// engine.ErrUnauthenticated, 403 engine.ErrForbidden, 404 engine.ErrNotFound, 413
// engine.ErrTooLarge, 422 engine.ErrUnprocessable, 429 engine.ErrRateLimited, 503
// engine.ErrUnavailable and 507 engine.ErrInsufficientStorage; so errors.Is(err,
// engine.ErrNotFound), engine.ErrorCode(err) and errors.As(err, &engineErr) work as
// they do on the server. A body that is not nextbest's JSON error (a proxy's page) still
// gives an *Error with the status and the start of the body. Errors of the transport (no
// server, a cancelled context) are returned wrapped, with the method and path.
//
// # Adding a route
//
// A method is a few lines over do (JSON in, JSON out) or stream (JSON lines, or bytes to
// an io.Writer): see Client.Action and Client.Decisions. The route table test
// (TestEveryRouteHasAMethod) fails until every route of the server has one.
package client
