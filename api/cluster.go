package api

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/api/wire"
)

// ClusterView reports this replica's view of the cluster it belongs to: GET /v1/cluster.
type ClusterView interface {
	Cluster(ctx context.Context) (wire.Cluster, error)
}

// getCluster answers with every replica's position in the log; a single node (no
// ClusterView) answers {"clustered": false}.
func (s *Server) getCluster(c *fiber.Ctx) error {
	if s.nodes == nil {
		return c.JSON(wire.Cluster{})
	}
	v, err := s.nodes.Cluster(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(v)
}
