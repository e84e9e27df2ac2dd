# Container images, one per service (needs a Docker engine).
IMAGE_REPO ?= ghcr.io/acube
IMAGE_TAG  ?= dev

.PHONY: images
## images: build every service's image from its Dockerfile
images:
	@set -e; for s in $(SERVICES); do \
	  docker build -f services/$$s/Dockerfile -t $(IMAGE_REPO)/$$s:$(IMAGE_TAG) . ; done
