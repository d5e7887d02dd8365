# maim-test-postgres:<major>: a PostgreSQL server like the official postgres:<major> image, built
# FROM scratch by scripts/db-images.sh (which assembles rootfs/: see README.md beside this file).
FROM scratch
ARG PG_MAJOR
ARG PG_VERSION
ARG INPUTS
COPY rootfs/ /
# owned by the server's user (999) as in the official image, so that `user: 999` works too
COPY --chown=999:999 owned-home/ /var/lib/postgresql/
COPY --chown=999:999 owned-run/ /var/run/postgresql/
ENV PG_MAJOR=${PG_MAJOR} PG_VERSION=${PG_VERSION} LANG=C.UTF-8 \
    PATH=/usr/lib/postgresql/${PG_MAJOR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data
LABEL org.docker-maim.test-db.inputs=${INPUTS} \
      org.opencontainers.image.title="maim test postgres" \
      org.opencontainers.image.version=${PG_VERSION}
VOLUME /var/lib/postgresql/data
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["docker-entrypoint"]
CMD ["postgres"]
