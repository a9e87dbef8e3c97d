module github.com/prism-wait/prism-wait

go 1.26.0

require (
	github.com/cenkalti/backoff/v4 v4.3.0
	github.com/sethvargo/go-envconfig v1.4.3
	github.com/sethvargo/go-githubactions v1.4.0
)

require go.yaml.in/yaml/v3 v3.0.6

require golang.org/x/time v0.16.0

require (
	golang.org/x/net v0.62.0
	golang.org/x/text v0.43.0 // indirect
)
