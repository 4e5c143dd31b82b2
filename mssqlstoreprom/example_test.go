package mssqlstoreprom_test

import (
	"database/sql"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/scs-contrib/mssqlstore"
	"github.com/scs-contrib/mssqlstore/mssqlstoreprom"
)

// Register the store's figures once, and serve them on /metrics.
func ExampleNewCollector() {
	db, err := sql.Open("sqlserver", "sqlserver://app:secret@db?database=web")
	if err != nil {
		panic(err)
	}
	store := mssqlstore.New(db)
	prometheus.MustRegister(mssqlstoreprom.NewCollector(store))
	http.Handle("/metrics", promhttp.Handler())
}
