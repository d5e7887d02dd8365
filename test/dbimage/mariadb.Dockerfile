# maim-test-mariadb:10.11: a MariaDB server like the official mariadb:10.11 image, built FROM
# scratch by scripts/db-images.sh (which assembles rootfs/: see README.md beside this file).
FROM scratch
ARG MARIADB_VERSION
ARG INPUTS
COPY rootfs/ /
# owned by the server's user (999) as in the official image, so that `user: 999` works too
COPY --chown=999:999 owned-home/ /var/lib/mysql/
COPY --chown=999:999 owned-run/ /run/mysqld/
ENV MARIADB_VERSION=${MARIADB_VERSION} LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL org.docker-maim.test-db.inputs=${INPUTS} \
      org.opencontainers.image.title="maim test mariadb" \
      org.opencontainers.image.version=${MARIADB_VERSION}
VOLUME /var/lib/mysql
EXPOSE 3306
ENTRYPOINT ["docker-entrypoint"]
CMD ["mariadbd"]
