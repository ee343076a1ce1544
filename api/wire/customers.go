package wire

// CustomerRequest is the body of PUT /v1/customers/{id}; the answer is the stored
// engine.Customer.
type CustomerRequest struct {
	// Attributes is the customer's profile, a JSON object of free-form values. It replaces
	// the stored profile.
	Attributes map[string]any `json:"attributes"`
}
