package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/client"
	"github.com/nextbest/nextbest/engine"
)

// A decision service's loop: put an action, ask for the next best action for a
// customer, report the response; and tell errors apart by the engine's kinds and codes.
func Example() {
	// A real server on 127.0.0.1:0 over a temporary store, with its admin key.
	dir, err := os.MkdirTemp("", "nextbest-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, stop, err := serve(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	ctx := context.Background()
	c := client.New(srv.url, client.WithKey(srv.admin))
	if _, err := c.PutAction(ctx, "upgrade", wire.ActionRequest{Value: &engine.Money{Const: 30}, Channels: []string{"web"}}); err != nil {
		log.Fatal(err)
	}
	res, err := c.Decide(ctx, wire.DecideRequest{CustomerID: "c42", Channel: "web", Context: map[string]any{"page": "plans"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("offer:", res.Actions[0].ID, "worth", res.Actions[0].Value)
	fb, err := c.Feedback(ctx, wire.FeedbackRequest{DecisionID: res.DecisionID, ActionID: "upgrade", Outcome: engine.Accepted})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("learned:", fb.Learned)

	// Errors are the engine's: a kind for errors.Is, a stable code, a message.
	_, err = c.Feedback(ctx, wire.FeedbackRequest{DecisionID: res.DecisionID, ActionID: "downgrade", Outcome: engine.Accepted})
	fmt.Println(errors.Is(err, engine.ErrUnprocessable), engine.ErrorCode(err))
	_, err = c.Action(ctx, "downgrade")
	fmt.Println(errors.Is(err, engine.ErrNotFound), engine.ErrorCode(err))
	// Output:
	// offer: upgrade worth 30
	// learned: true
	// true action_not_offered
	// true unknown_action
}
