# Install layout and the Debian package (CPack DEB). Included from the
# top-level CMakeLists.txt, after the targets and their install(TARGETS).
#
#   cmake --install build --prefix /tmp/x    a tree under /tmp/x
#   cpack --config build/CPackConfig.cmake   build/lorafleet_<version>_<arch>.deb
#
# Layout, for the prefix given at install time (like GNUInstallDirs: with
# prefix /usr the configuration goes to /etc, otherwise to <prefix>/etc):
#
#   <prefix>/bin/lorafleet-{bridge,routerlink,apigw}    (install(TARGETS) in each daemon)
#   <etc>/lorafleet/lorafleet.ini                       the example configuration
#   <prefix>/lib/systemd/system/lorafleet-*.service     one unit per daemon (LF_SYSTEMD_UNITDIR)
#   <prefix>/share/doc/lorafleet/                       README.md, docs/*.md
#   <prefix>/share/lorafleet/broker-config/             mosquitto.conf, acl, mkcerts
#
# The units name the binaries and the configuration by absolute path, so
# they are written at install time for the prefix actually used: a tree
# installed with --prefix /tmp/x has units that run /tmp/x/bin/... with
# /tmp/x/etc/lorafleet/lorafleet.ini. systemd only looks for units in
# /etc/systemd/system, /usr/lib/systemd/system and /lib/systemd/system:
# with another prefix, link or copy them there (systemctl link FILE).
include(GNUInstallDirs)

set(LF_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
	"Where the systemd units go, relative to the install prefix")
set(LF_DAEMONS bridge routerlink apigw)
set(LF_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)

# The example configuration: a conffile in the package (dpkg keeps the
# operator's changes on upgrade). Mode 0644: it holds no secret (those come
# from the environment files).
install(CODE "
	if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
		set(lf_etc /etc)
	else()
		set(lf_etc \"\${CMAKE_INSTALL_PREFIX}/etc\")
	endif()
	file(INSTALL DESTINATION \"\${lf_etc}/lorafleet\" TYPE FILE
		PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
		FILES \"${PROJECT_SOURCE_DIR}/lorafleet.ini\")
")

# The units, written for the install-time prefix, then installed.
install(CODE "
	if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
		set(LF_SYSCONFDIR /etc)
	else()
		set(LF_SYSCONFDIR \"\${CMAKE_INSTALL_PREFIX}/etc\")
	endif()
	set(LF_BINDIR \"\${CMAKE_INSTALL_PREFIX}/bin\")
	set(LF_DOCDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
	set(lf_units)
	foreach(d ${LF_DAEMONS})
		configure_file(\"${LF_PACKAGING_DIR}/systemd/lorafleet-\${d}.service.in\"
			\"${CMAKE_CURRENT_BINARY_DIR}/systemd/lorafleet-\${d}.service\" @ONLY)
		list(APPEND lf_units \"${CMAKE_CURRENT_BINARY_DIR}/systemd/lorafleet-\${d}.service\")
	endforeach()
	if(IS_ABSOLUTE \"${LF_SYSTEMD_UNITDIR}\")
		set(lf_unitdir \"${LF_SYSTEMD_UNITDIR}\")
	else()
		set(lf_unitdir \"\${CMAKE_INSTALL_PREFIX}/${LF_SYSTEMD_UNITDIR}\")
	endif()
	file(INSTALL DESTINATION \"\${lf_unitdir}\" TYPE FILE
		PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
		FILES \${lf_units})
")

install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
file(GLOB lf_docs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${lf_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The deployment broker's configuration, as an example to copy
# (docs/operations.md); local.conf.in is scripts/run's and stays out.
install(FILES ${PROJECT_SOURCE_DIR}/broker-config/mosquitto.conf
	${PROJECT_SOURCE_DIR}/broker-config/acl
	DESTINATION ${CMAKE_INSTALL_DATADIR}/lorafleet/broker-config)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/broker-config/mkcerts
	DESTINATION ${CMAKE_INSTALL_DATADIR}/lorafleet/broker-config)

# --- The Debian package -------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME lorafleet)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR lorafleet)
set(CPACK_PACKAGE_CONTACT "lorafleet maintainers <lorafleet@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
	"LoRaWAN gateway fleet on MQTT and the Helium network")
set(CPACK_PACKAGE_DESCRIPTION
"lorafleet is three small daemons that talk through an MQTT broker:
lorafleet-bridge (Semtech UDP packet forwarders <-> MQTT),
lorafleet-routerlink (one Helium Hotspot per gateway, on Helium's packet
router) and lorafleet-apigw (REST, Server-Sent Events and Prometheus
metrics). With hardened systemd units, an example configuration and the
deployment broker's configuration.")
# The package's files are under /usr and /etc: install with DESTDIR so that
# the install-time rules above see the prefix /usr (and put the
# configuration in /etc), not CPack's staging directory.
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/lorafleet/lorafleet")
# Depends: what dpkg-shlibdeps finds for the binaries (exactly Debian's
# runtime library packages), plus adduser for postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# The broker may run elsewhere; mkcerts needs openssl and mosquitto_passwd.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "mosquitto, mosquitto-clients, openssl")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
	${LF_PACKAGING_DIR}/debian/conffiles
	${LF_PACKAGING_DIR}/debian/postinst
	${LF_PACKAGING_DIR}/debian/prerm
	${LF_PACKAGING_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# A package is built from a Release build, never from a sanitizer build:
# cpack refuses one.
set(CPACK_LF_SANITIZE ${LF_SANITIZE})
set(CPACK_PROJECT_CONFIG_FILE ${LF_PACKAGING_DIR}/cpack-project.cmake)
include(CPack)
