// The modules this workplace's Go module proxy refuses, from their upstream sources in
// ../shared/vendor (see its README): tools/build appends these lines to a copy of go.mod
// where that folder is beside the repository.
replace (
	github.com/pactus-project/gopkg/logger => ../../shared/vendor/pactus-gopkg-31cb0bb7/logger
	github.com/pactus-project/gopkg/pipeline => ../../shared/vendor/pactus-gopkg-612d6d2b/pipeline
	github.com/pactus-project/gopkg/retry => ../../shared/vendor/pactus-gopkg-612d6d2b/retry
	github.com/pactus-project/gopkg/scheduler => ../../shared/vendor/pactus-gopkg-612d6d2b/scheduler
	github.com/pactus-project/gopkg/signal => ../../shared/vendor/pactus-gopkg-612d6d2b/signal
	github.com/pactus-project/gopkg/testsuite => ../../shared/vendor/pactus-gopkg-612d6d2b/testsuite
	github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3 => ../../shared/vendor/pulumi-language-python-v3.259.0/sdk/python/cmd/pulumi-language-python
)
