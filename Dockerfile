# boomer in a container: built with the same scripts as everywhere else, run as a non-root user.
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN scripts/deps && scripts/build release boomer && strip build/release/boomer

FROM debian:12
COPY scripts/deps /usr/local/lib/boomer/deps
COPY --from=build /src/build/release/boomer /usr/local/bin/boomer
COPY examples /usr/local/share/boomer/examples
# Runtime libraries only: the -dev packages scripts/deps installs pull them in; installing them
# here keeps one list of packages. The image is larger than a hand-trimmed one, but never drifts.
RUN /usr/local/lib/boomer/deps && useradd --system --create-home --home-dir /data boomer
USER boomer
WORKDIR /data
EXPOSE 8080
ENV BOOMER_DATA=/data BOOMER_LOG_FORMAT=json
ENTRYPOINT ["boomer", "serve"]
