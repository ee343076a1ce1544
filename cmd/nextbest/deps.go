package main
import (
 _ "github.com/dgraph-io/badger/v4"
 _ "gonum.org/v1/gonum/mat"
 _ "github.com/gofiber/fiber/v2"
 _ "github.com/robfig/cron/v3"
 _ "github.com/VictoriaMetrics/metrics"
 _ "github.com/expr-lang/expr"
 _ "gopkg.in/yaml.v3"
 _ "github.com/cespare/xxhash/v2"
 _ "github.com/chromedp/chromedp"
)
func main(){}
