-- Grain: one row per event that landed later than the configured lookback (event_id),
-- measured on the data (see int_events.lateness_seconds). The incremental run recomputes the
-- days they touch; the lookback is the lateness for which that is guaranteed, so these are
-- the events whose days an operator may want to backfill or check.
with

events as (

    select * from {{ ref('int_events') }}

),

final as (

    select
        event_id,
        event_type,
        event_date,
        occurred_at,
        brand_id,
        batch_id,
        lateness_seconds,
        round(lateness_seconds / 86400.0, 2) as lateness_days

    from events
    where {{ late_event_condition() }}

)

select * from final
