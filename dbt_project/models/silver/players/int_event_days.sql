-- Grain: one row per (brand_id, event_date): the UTC days on which a brand has at least one
-- deduplicated event (any type, valid payload or not). Its first and last days are the
-- "days with data" of the player marts: the calendar of fct_active_players_daily and the
-- maturity horizon of fct_retention and fct_ltv.
--
-- Incremental (delete+insert): the batches above the highest one already here (up to the
-- run's horizon) add their event counts to the days they fall on. Each row's batch_id is the
-- highest batch among its events, so max(batch_id) is the last batch taken in and no event is
-- counted twice.
{{
    config(
        unique_key=['brand_id', 'event_date'],
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['brand_id', 'event_date'], 'unique': true},
            {'columns': ['batch_id']},
        ],
    )
}}

with

events as (

    select brand_id, event_date, batch_id
    from {{ ref('int_events') }}
    where batch_id <= {{ batch_horizon() }}
        {% if is_incremental() %}
        and batch_id > (select coalesce(max(batch_id), 0) from {{ this }})
        {% endif %}

),

new_days as (

    select
        brand_id,
        event_date,
        count(*) as events,
        max(batch_id) as batch_id
    from events
    group by brand_id, event_date

),

merged as (

    select
        new_days.brand_id,
        new_days.event_date,
        {% if is_incremental() %}
        new_days.events + coalesce(published.events, 0) as events,
        {% else %}
        new_days.events,
        {% endif %}
        new_days.batch_id
    from new_days
    {% if is_incremental() %}
    left join {{ this }} as published
        on published.brand_id = new_days.brand_id
        and published.event_date = new_days.event_date
    {% endif %}

),

final as (

    select
        brand_id,
        event_date,
        events::bigint as events,
        batch_id
    from merged

)

select * from final
