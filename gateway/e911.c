/* gateway/e911.c  Emergency calls' ELINs and the PSAP callback table
 *
 * Which zone a caller is in and which ELIN to send is e911/'s decision;
 * here is the live state it needs: how many calls use each ELIN, when its
 * last call ended, and whom a callback to it reaches.  The table lives in
 * memory and is rebuilt at start from the CDRs (each emergency call's CDR
 * names the ELIN and the caller), so it survives restarts without the
 * loop ever writing to disk itself.
 */
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "e911"
#include "util/util.h"
#include "gw.h"

static struct gw_elin *elin_get(struct gw *gw, const char *elin, bool add)
{
	for (size_t i = 0; i < gw->nelins; i++)
		if (!strcmp(gw->elins[i].elin, elin))
			return &gw->elins[i];
	if (!add)
		return NULL;
	if (gw->nelins == gw->elins_cap) {
		size_t cap = gw->elins_cap ? 2 * gw->elins_cap : 16;
		struct gw_elin *n = realloc(gw->elins, cap * sizeof(*n));

		if (!n)
			return NULL;
		gw->elins = n;
		gw->elins_cap = cap;
	}
	memset(&gw->elins[gw->nelins], 0, sizeof(gw->elins[0]));
	tg_strlcpy(gw->elins[gw->nelins].elin, elin,
		   sizeof(gw->elins[0].elin));
	return &gw->elins[gw->nelins++];
}

bool gw_e911_preview(struct gw *gw, const struct e911_caller *caller,
		     const struct e911_zone **zp, struct e911_zone_row *loc,
		     const char **elin, char *why, size_t whysize)
{
	struct e911_elin_use use[E911_MAX_ELINS];
	const struct e911_zone *z;
	size_t n;

	/* The zone, with this caller's floor, unit and room in it. */
	z = e911_locate_row(gw->e911, caller, loc, why, whysize);
	if (!z)
		return false;
	n = e911_zone_nelins(z);
	for (size_t i = 0; i < n; i++) {
		const struct gw_elin *g = elin_get(gw, e911_zone_elin(z, i),
						   false);

		use[i].active = g ? g->active : 0;
		use[i].last_end_ms = g ? g->last_end_ms : 0;
	}
	*zp = z;
	*elin = e911_zone_elin(z, e911_pick_elin(z, use));
	return true;
}

bool gw_e911_place(struct gw *gw, const struct e911_caller *caller,
		   const char *party_trunk, const char *party_user,
		   const char *call_id, char *zone, size_t zsize, char *elin,
		   size_t esize, struct e911_zone_row *loc)
{
	const struct e911_zone *z;
	const char *chosen;
	char why[160], addr[320];

	if (!gw_e911_preview(gw, caller, &z, loc, &chosen, why,
			     sizeof(why))) {
		gw_err("EMERGENCY call from %s (%s): no location zone and no "
		       "zone named default; sent with its own caller-ID",
		       *caller->calling ? caller->calling : "(unknown)",
		       caller->src_trunk);
		return false;
	}
	tg_strlcpy(zone, e911_zone_row(z)->name, zsize);
	tg_strlcpy(elin, chosen, esize);
	gw_e911_use(gw, elin, zone, party_trunk, party_user, call_id);
	e911_address_line(loc, addr, sizeof(addr));
	gw_warn("EMERGENCY call from %s: %s, ELIN %s, location: %s",
		*caller->calling ? caller->calling : "(unknown)", why, elin,
		addr);
	return true;
}

void gw_e911_use(struct gw *gw, const char *elin, const char *zone,
		 const char *party_trunk, const char *party_user,
		 const char *call_id)
{
	struct gw_elin *e = elin_get(gw, elin, true);

	if (!e)
		return;
	tg_strlcpy(e->zone, zone, sizeof(e->zone));
	e->active++;
	tg_strlcpy(e->party_trunk, party_trunk, sizeof(e->party_trunk));
	tg_strlcpy(e->party_user, party_user, sizeof(e->party_user));
	tg_strlcpy(e->party_call, call_id, sizeof(e->party_call));
	e->party_ms = tg_time_ms();
}

void gw_e911_ended(struct gw *gw, const char *elin)
{
	struct gw_elin *e = elin_get(gw, elin, false);

	if (!e)
		return;
	if (e->active)
		e->active--;
	e->last_end_ms = e->party_ms = tg_time_ms();
}

int gw_e911_callback(struct gw *gw, const char *called, char *zone,
		     size_t zsize, char *trunk, size_t tsize, char *user,
		     size_t usize, char *ref, size_t rsize)
{
	const struct e911_zone *z = e911_zone_of_elin(gw->e911, called);
	const struct e911_zone_row *r;
	struct gw_elin *e;
	int64_t window = (int64_t)gw->cfg.callback_window * 60000;

	if (!z)
		return 0;
	r = e911_zone_row(z);
	tg_strlcpy(zone, r->name, zsize);
	e = elin_get(gw, *called == '+' ? called + 1 : called, false);
	/* A caller whose trunk a reload removed is reached no more: the
	 * zone's destination takes the callback instead. */
	if (e && e->party_ms && *e->party_trunk &&
	    tg_time_ms() - e->party_ms <= window &&
	    gw_config_trunk(&gw->cfg, e->party_trunk)) {
		tg_strlcpy(trunk, e->party_trunk, tsize);
		tg_strlcpy(user, e->party_user, usize);
		tg_strlcpy(ref, e->party_call, rsize);
		/* RFC 7090's window runs from the last contact. */
		e->party_ms = tg_time_ms();
		return 1;
	}
	if (!*r->callback_trunk ||
	    !gw_config_trunk(&gw->cfg, r->callback_trunk))
		return 0;
	tg_strlcpy(trunk, r->callback_trunk, tsize);
	tg_strlcpy(user, *r->callback_user ? r->callback_user : called,
		   usize);
	return 2;
}

void gw_e911_callback_ended(struct gw *gw, const char *elin)
{
	struct gw_elin *e = elin_get(gw, *elin == '+' ? elin + 1 : elin,
				     false);

	/* RFC 7090: the window runs from the last contact, and a restart
	 * counts it from the callback's CDR end: the same here. */
	if (e && e->party_ms)
		e->party_ms = tg_time_ms();
}

bool gw_e911_is_elin(struct gw *gw, const char *called)
{
	char digits[32];
	size_t n = 0, len;

	/* The number as the trunk sent it: "+1 212...", "2125550911". */
	for (const char *c = called; *c && n + 1 < sizeof(digits); c++)
		if (*c >= '0' && *c <= '9')
			digits[n++] = *c;
	digits[n] = '\0';
	if (n < 7)
		return false;
	for (size_t i = 0; i < e911_zone_count(gw->e911); i++) {
		const struct e911_zone *z = e911_zone_at(gw->e911, i);

		for (size_t e = 0; e < e911_zone_nelins(z); e++) {
			const char *elin = e911_zone_elin(z, e);

			len = strlen(elin);
			if (len >= n && !strcmp(elin + len - n, digits))
				return true;
		}
	}
	return false;
}

static void restore_one(const char *elin, const char *zone,
			const char *trunk, const char *user, int64_t end_ms,
			const char *call_id, void *arg)
{
	struct gw *gw = arg;
	struct gw_elin *e = elin_get(gw, elin, true);

	if (!e)
		return;
	tg_strlcpy(e->zone, zone, sizeof(e->zone));
	tg_strlcpy(e->party_trunk, trunk, sizeof(e->party_trunk));
	tg_strlcpy(e->party_user, user, sizeof(e->party_user));
	tg_strlcpy(e->party_call, call_id, sizeof(e->party_call));
	e->party_ms = e->last_end_ms = end_ms;
}

int gw_e911_restore(struct gw *gw)
{
	int64_t since = tg_time_ms() -
			(int64_t)gw->cfg.callback_window * 60000;
	int rc = cdr_db_elin_parties(gw->cfg.db_path, since, restore_one, gw);

	if (!rc && gw->nelins)
		gw_notice("PSAP callback table: %zu ELIN(s) used in the last "
			  "%u minutes", gw->nelins, gw->cfg.callback_window);
	return rc;
}

void gw_e911_free(struct gw *gw)
{
	free(gw->elins);
	gw->elins = NULL;
	gw->nelins = gw->elins_cap = 0;
}
