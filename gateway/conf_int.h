/* The value checks of the option table (conf.c), one per kind of value;
 * each returns 0 or EINVAL with the reason in err. Private to gateway/conf*.c. */
#ifndef TND_CONF_INT_H
#define TND_CONF_INT_H

#include <stddef.h>

int tnd_conf_check_addr(const char *v, char *err, size_t errlen);
int tnd_conf_check_addr_list(const char *v, char *err, size_t errlen);
int tnd_conf_check_allow_list(const char *v, char *err, size_t errlen);
int tnd_conf_check_cidr_list(const char *v, char *err, size_t errlen);
int tnd_conf_check_codec_list(const char *v, char *err, size_t errlen);
int tnd_conf_check_host(const char *v, char *err, size_t errlen);
int tnd_conf_check_hostport(const char *v, char *err, size_t errlen);
int tnd_conf_check_http_url(const char *v, char *err, size_t errlen);
int tnd_conf_check_levels(const char *v, char *err, size_t errlen);
int tnd_conf_check_path(const char *v, char *err, size_t errlen);
int tnd_conf_check_patterns(const char *v, char *err, size_t errlen);
int tnd_conf_check_prefix_list(const char *v, char *err, size_t errlen);
int tnd_conf_check_readable(const char *v, char *err, size_t errlen);
int tnd_conf_check_sip_uri(const char *v, char *err, size_t errlen);
int tnd_conf_check_srtp_suites(const char *v, char *err, size_t errlen);

#endif
