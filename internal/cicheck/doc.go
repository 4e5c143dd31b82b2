// Package cicheck holds only a test: it parses the repository's CI
// workflow (.github/workflows/ci.yml) and compose file (compose.yaml) and
// checks their structure, since neither can run without a CI host or a
// Docker engine. It checks that the jobs, the SQL Server versions, the
// images, the DSNs and the test commands are where the project needs
// them, and that the DSNs agree with the server passwords.
package cicheck
