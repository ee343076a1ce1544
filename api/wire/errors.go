package wire

// ErrorBody is the JSON body of every error response:
//
//	{"error": {"code": "unknown_action", "message": "no action \"x\""}}
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is a stable code for programs (engine.Error's Code) and a message for people.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Health is the answer of GET /healthz ({"status": "ok"}) and of GET /readyz when the
// server is ready: "ready", or "degraded" with a reason ("disk_full") and a message while
// writes are refused. A server that is not ready answers /readyz with 503 and an
// ErrorBody (code not_ready).
type Health struct {
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}
