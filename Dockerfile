# syntax=docker/dockerfile:1
# One image for every service of the pipeline: `mhfz scrape|process|sink|serve|migrate|health`.

# Build: a static binary (CGO off), so that the final image needs no libc.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/mhfz ./cmd/mhfz \
 && mkdir -p /out/state

# Run: distroless static (CA certificates for the live site over HTTPS, no shell), non-root.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mhfz /usr/local/bin/mhfz
# The folder the services keep their state in (processor group table, scraper's conditional-GET
# state): owned by the non-root user, so that a named volume mounted there is writable.
COPY --from=build --chown=65532:65532 /out/state /var/lib/mhfz
USER 65532:65532
WORKDIR /var/lib/mhfz
ENTRYPOINT ["/usr/local/bin/mhfz"]
CMD ["--help"]
# The health subcommand checks the broker and/or the database the service is configured with.
HEALTHCHECK --interval=15s --timeout=10s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/mhfz", "health"]
