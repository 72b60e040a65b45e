# syntax=docker/dockerfile:1
#
# The streams-placer image: `docker build -t streams-placer/streams-placer:0.1.0 .`
# (the name manifests/ deploys; override it there with `images:`).
#
# NOT BUILT OR RUN IN CI: the development machine has no container engine,
# so nothing here is exercised by `make check`. tests/test_manifests.sh only
# checks that every shared library the binary links is provided by a package
# the runtime stage installs.
#
# Two stages on Debian bookworm, as the project builds everywhere else:
#   build    the -dev packages (scripts/install-deps.sh, the same list the
#            developers and CI use), autoreconf, configure, make; set
#            --build-arg RUN_TESTS=1 to run `make check` too (slower).
#   runtime  bookworm-slim with only the shared libraries the binary links,
#            non-root (65532, as the Deployment runs it), no shell tools
#            beyond the base image's.

ARG DEBIAN_RELEASE=bookworm

FROM debian:${DEBIAN_RELEASE} AS build
ARG RUN_TESTS=0
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN sh scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN autoreconf -fi \
 && mkdir -p /build && cd /build \
 && /src/configure --prefix=/usr/local \
 && make -j"$(nproc)" \
 && if [ "$RUN_TESTS" = 1 ]; then make -j"$(nproc)" check; fi \
 && make install-strip DESTDIR=/out \
 && /out/usr/local/bin/streams-placer version

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# libmicrohttpd + GnuTLS (HTTPS server), cJSON, libcurl + OpenSSL (API
# client and certificates), SQLite (the standalone store), libyaml
# (kubeconfig files).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libgnutls30 libcjson1 libcurl4 libssl3 libsqlite3-0 libyaml-0-2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/usr/local/bin/streams-placer /usr/local/bin/streams-placer
# the state directory for standalone runs (in a cluster: an emptyDir)
RUN install -d -o 65532 -g 65532 -m 0700 /var/lib/streams-placer
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/streams-placer", "serve"]
