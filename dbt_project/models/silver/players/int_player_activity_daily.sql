-- Grain: one row per (brand_id, player_id, activity_date) on which the player was active or
-- had a return event. UTC days. From deduplicated, valid events only.
--
-- Active (docs/metrics.md): a bet.placed, or a wallet.credit with reason 'deposit', or a session
-- started that day (int_sessions, day of the start) lasting at least
-- var('active_session_min_seconds'). has_return_event: an event of type
-- var('retention_return_event_type') that day (bet.placed by default, so then every return
-- day is an active day). Both vars are applied when a row is written: after changing one,
-- rebuild with --full-refresh.
--
-- Incremental (delete+insert on the player-day): flags only ever turn on (a completed
-- session never changes, see int_sessions), so the facts of batches above the highest one
-- already here (events of int_events, sessions of int_sessions that changed in those batches)
-- are OR-ed into the rows. batch_id = the highest batch among the row's facts.
{%- set return_type = var('retention_return_event_type') -%}
{%- set event_types = ['bet.placed', 'wallet.credit'] -%}
{%- if return_type not in event_types -%}
{%- set event_types = event_types + [return_type] -%}
{%- endif %}
{%- set quoted_types = "'" ~ event_types | join("', '") ~ "'" %}
{{
    config(
        unique_key=['brand_id', 'player_id', 'activity_date'],
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['brand_id', 'player_id', 'activity_date'], 'unique': true},
            {'columns': ['activity_date']},
            {'columns': ['batch_id']},
        ],
    )
}}

with

events as (

    select brand_id, player_id, event_date, event_type, payload, batch_id
    from {{ ref('int_events') }}
    where event_type in ({{ quoted_types }})
        and invalid_reason is null
        and is_known_type
        and batch_id <= {{ batch_horizon() }}
        {% if is_incremental() %}
        and batch_id > (select coalesce(max(batch_id), 0) from {{ this }})
        {% endif %}

),

sessions as (

    select brand_id, player_id, start_date, batch_id
    from {{ ref('int_sessions') }}
    where is_completed
        and duration_seconds >= {{ var('active_session_min_seconds') }}
        and batch_id <= {{ batch_horizon() }}
        {% if is_incremental() %}
        and batch_id > (select coalesce(max(batch_id), 0) from {{ this }})
        {% endif %}

),

event_facts as (

    select
        brand_id,
        player_id,
        event_date as activity_date,
        bool_or(event_type = 'bet.placed') as has_bet,
        bool_or(
            event_type = 'wallet.credit'
            and {{ json_text('payload', 'reason') }} = 'deposit'
        ) as has_deposit,
        false as has_active_session,
        bool_or(event_type = '{{ return_type }}') as has_return_event,
        max(batch_id) as batch_id
    from events
    group by brand_id, player_id, event_date

),

session_facts as (

    select
        brand_id,
        player_id,
        start_date as activity_date,
        false as has_bet,
        false as has_deposit,
        true as has_active_session,
        false as has_return_event,
        max(batch_id) as batch_id
    from sessions
    group by brand_id, player_id, start_date

),

facts as (

    select * from event_facts
    union all
    select * from session_facts

),

new_days as (

    select
        brand_id,
        player_id,
        activity_date,
        bool_or(has_bet) as has_bet,
        bool_or(has_deposit) as has_deposit,
        bool_or(has_active_session) as has_active_session,
        bool_or(has_return_event) as has_return_event,
        max(batch_id) as batch_id
    from facts
    group by brand_id, player_id, activity_date

),

merged as (

    select
        new_days.brand_id,
        new_days.player_id,
        new_days.activity_date,
        {% if is_incremental() %}
        new_days.has_bet or coalesce(published.has_bet, false) as has_bet,
        new_days.has_deposit or coalesce(published.has_deposit, false) as has_deposit,
        new_days.has_active_session
        or coalesce(published.has_active_session, false) as has_active_session,
        new_days.has_return_event
        or coalesce(published.has_return_event, false) as has_return_event,
        greatest(new_days.batch_id, published.batch_id) as batch_id
        {% else %}
        new_days.has_bet,
        new_days.has_deposit,
        new_days.has_active_session,
        new_days.has_return_event,
        new_days.batch_id
        {% endif %}
    from new_days
    {% if is_incremental() %}
    left join {{ this }} as published
        on published.brand_id = new_days.brand_id
        and published.player_id = new_days.player_id
        and published.activity_date = new_days.activity_date
    {% endif %}

),

final as (

    select
        brand_id,
        player_id,
        activity_date,
        has_bet or has_deposit or has_active_session as is_active,
        has_bet,
        has_deposit,
        has_active_session,
        has_return_event,
        batch_id
    from merged
    -- e.g. a wallet.credit that is not a deposit makes no row
    where has_bet or has_deposit or has_active_session or has_return_event

)

select * from final
