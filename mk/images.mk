# Container images, one per service (needs a Docker engine), all from the one
# deploy/Dockerfile with the service's name as its build argument.
IMAGE_REPO ?= ghcr.io/acube
IMAGE_TAG  ?= dev

.PHONY: images
## images: build every service's image from deploy/Dockerfile
images:
	@set -e; for s in $(SERVICES); do \
	  docker build -f deploy/Dockerfile --build-arg SERVICE=$$s -t $(IMAGE_REPO)/$$s:$(IMAGE_TAG) . ; done
