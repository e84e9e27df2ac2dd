# Deployment checks (docs/operations.md). `make test-deploy` installs
# promtool and kube-score into ./bin once (promtool takes a few minutes the
# first time), then runs the alert rules' unit tests
# (deploy/k8s/base/monitoring/tests) and kube-score on the prod overlay
# (findings kept only with a reason in deploy/k8s/kube-score-ignore.yaml),
# both from tools/internal/manifests. `make test` runs it first.
PROMTOOL_VERSION   := v0.316.0
KUBE_SCORE_VERSION := v1.20.0

.PHONY: test-deploy
## test-deploy: promtool unit tests of the alerts and kube-score on the prod overlay
test-deploy: $(BIN)/promtool $(BIN)/kube-score
	@cd tools && ACUBE_DEPLOY_TOOLS=require PROMTOOL=$(BIN)/promtool KUBE_SCORE=$(BIN)/kube-score \
		go test -count=1 -run 'TestAlertRulesUnitTests|TestKubeScoreOnTheProdOverlay' -v ./internal/manifests/ | grep -v '^=== '; \
		exit $${PIPESTATUS[0]}

$(BIN)/promtool:
	@echo "building promtool $(PROMTOOL_VERSION) (once; a few minutes)"
	@GOWORK=off GOBIN=$(BIN) go install github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION)

$(BIN)/kube-score:
	@echo "building kube-score $(KUBE_SCORE_VERSION) (once)"
	@GOWORK=off GOBIN=$(BIN) go install github.com/zegl/kube-score/cmd/kube-score@$(KUBE_SCORE_VERSION)
