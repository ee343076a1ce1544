package record

import (
	"time"
)

// Customer is a customer profile: attributes from the CRM that every decision for this
// customer can use, merged by PUT /v1/customers/{id}.
type Customer struct {
	ID         CustomerID     `json:"id"`
	Attributes map[string]any `json:"attributes"`
	Updated    time.Time      `json:"updated"`
}
