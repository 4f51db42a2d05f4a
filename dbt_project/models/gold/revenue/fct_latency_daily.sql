-- Grain: one row per (day, brand_id) with a settle lag or an ingest lag.
-- Settle lag: seconds from a bet's first bet.placed to its last bet.settled (int_bets), by
-- the UTC day of that settlement; bets without a placed event have none. Ingest lag: seconds
-- from occurred_at to ingested_at of every deduplicated event of a known type with a valid
-- payload that carries ingested_at, by the UTC day of occurred_at. Percentiles are continuous
-- (percentile_cont). Lags are kept as they are, negative ones (producer clocks disagree)
-- included.
--
-- Incremental: `day` is the unique key. A run recomputes every day a bet changed since the
-- last run can have been settled on (int_bets rows above the watermark, as in
-- fct_bets_rollup; the pre-hook deletes those days first) and every day of the new events.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='day',
        on_schema_change='fail',
        pre_hook="{{ delete_changed_days(ref('int_bets'), 'first_settlement_date', 'settled_date') }}",
        post_hook=["{{ record_candidate_changes() }}", "{{ record_batch_watermark() }}"],
    )
}}

with

bets as (

    select * from {{ ref('int_bets') }}

),

events as (

    select * from {{ ref('int_events') }}
    where is_known_type
        and invalid_reason is null
        and ingested_at is not null

),

{% if is_incremental() %}
-- a second import of int_events, so that no CTE is referenced twice and PostgreSQL inlines
-- both (a CTE referenced twice is materialized in full, and its indexes are lost)
new_events as (

    select * from {{ ref('int_events') }}
    where batch_id > {{ batch_watermark() }}
        and is_known_type
        and invalid_reason is null
        and ingested_at is not null

),

touched_days as (

    -- reads int_bets itself: a CTE referenced twice would be materialized in full; the
    -- pre-hook deletes these days but those of new events, which get rows anyway
    {{ recomputed_days(ref('int_bets'), 'first_settlement_date', 'settled_date') }}

    union

    select event_date
    from new_events

),
{% endif %}

settle_lags as (

    select
        settled_date as day,
        brand_id,
        settle_lag_seconds::double precision as lag_seconds
    from bets
    where settled_at is not null
        and placed_at is not null
        {% if is_incremental() %}
        and settled_date in (select day from touched_days)
        {% endif %}

),

ingest_lags as (

    select
        event_date as day,
        brand_id,
        extract(epoch from ingested_at - occurred_at)::double precision as lag_seconds
    from events
    {% if is_incremental() %}
    where event_date in (select day from touched_days)
    {% endif %}

),

settle_daily as (

    select
        day,
        brand_id,
        percentile_cont(0.5) within group (order by lag_seconds) as settle_lag_p50_s,
        percentile_cont(0.95) within group (order by lag_seconds) as settle_lag_p95_s,
        count(*) as settle_lag_bets
    from settle_lags
    group by 1, 2

),

ingest_daily as (

    select
        day,
        brand_id,
        percentile_cont(0.95) within group (order by lag_seconds) as ingest_lag_p95_s,
        count(*) as ingest_lag_events
    from ingest_lags
    group by 1, 2

),

final as (

    select
        day,
        brand_id,
        settle_daily.settle_lag_p50_s,
        settle_daily.settle_lag_p95_s,
        ingest_daily.ingest_lag_p95_s,
        coalesce(settle_daily.settle_lag_bets, 0) as settle_lag_bets,
        coalesce(ingest_daily.ingest_lag_events, 0) as ingest_lag_events

    from settle_daily
    full join ingest_daily using (day, brand_id)

)

select * from final
