# Builds the single onboard binary; every service in docker-compose.yml runs it
# with a different subcommand.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/onboard ./cmd/onboard

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/onboard /usr/local/bin/onboard
USER nonroot
ENTRYPOINT ["/usr/local/bin/onboard"]
CMD ["--help"]
