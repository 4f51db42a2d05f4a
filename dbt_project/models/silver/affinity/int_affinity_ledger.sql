-- Grain: one row per affinity event (event_id): every affinity.triggered and
-- affinity.admin_adjust, replayed through the pipeline of docs/affinity.md by device, in
-- (occurred_at, event_id) order. Each row carries the device's state after it, so a later
-- run can resume the device from its last row.
--
-- The fold is the PL/pgSQL function silver.affinity_replay (macros/affinity/affinity_replay.sql,
-- created by this model's pre-hook): one ordered stream, one pass, state in local variables.
--
-- Incremental (delete+insert on event_id), by batch watermark:
--   * devices without new events are not touched;
--   * a device whose new events all come after its last ledger row resumes from that row's
--     state (value, level, highest level ever reached, binding, per-rule last applied change
--     and local-day usage, overall positive usage of the day) and replays only what follows;
--   * a device with a new event before its last ledger row (a late event), or without any
--     ledger row yet, is replayed from its first event; its rows are all rewritten.
-- Both paths give exactly the full replay. The rules, settings and levels seeds are read
-- by the replay: after changing them, rebuild with
-- `dbt build --full-refresh --select affinity_rules+ affinity_settings+ affinity_levels+`.
{{
    config(
        unique_key='event_id',
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['event_id'], 'unique': true},
            {'columns': ['brand_id', 'device_id', 'occurred_at', 'event_id']},
            {'columns': ['brand_id', 'device_id', 'rule_key', 'occurred_at', 'event_id']},
            {'columns': ['replay_batch_id']},
        ],
        pre_hook="{{ create_affinity_replay_function(this.schema) }}",
        post_hook="{{ record_batch_watermark() }}",
    )
}}

{%- set watermark = batch_watermark() %}

{#- The replay's input: the events to fold, each with its local day and its device's resume state,
    in replay order. The function runs it as one query. -#}
{% set replay_input %}
with

-- not materialized: an incremental run reads only the touched devices' events, by index
events as not materialized (

    select * from {{ ref('int_affinity_events') }}

),

settings as (

    select * from {{ ref('affinity_settings') }}

),

{% if is_incremental() %}

rules as (

    select rule_key from {{ ref('affinity_rules') }}

),

new_events as (

    select * from events
    where batch_id > {{ watermark }}
        and batch_id <= {{ batch_horizon() }}

),

touched_devices as (

    select distinct brand_id, device_id
    from new_events

),

last_rows as (

    -- where each touched device's replay stopped
    select last_row.*
    from touched_devices
    cross join lateral (
        select * from {{ this }} as ledger
        where ledger.brand_id = touched_devices.brand_id
            and ledger.device_id = touched_devices.device_id
        order by ledger.occurred_at desc, ledger.event_id desc
        limit 1
    ) as last_row

),

resumable as (

    -- none of the device's new events lies before its last replayed one
    select * from last_rows
    where not exists (
        select 1 from new_events
        where new_events.brand_id = last_rows.brand_id
            and new_events.device_id = last_rows.device_id
            and (new_events.occurred_at, new_events.event_id)
                < (last_rows.occurred_at, last_rows.event_id)
    )

),

rule_states as (

    -- per rule, the state carried by the device's last row of that rule, in the order of the
    -- function's rule arrays (rule_key)
    select
        resumable.brand_id,
        resumable.device_id,
        array_agg(rule_row.local_date order by rules.rule_key) as rule_days,
        array_agg(rule_row.rule_day_used order by rules.rule_key) as rule_used,
        array_agg(rule_row.rule_last_applied_at order by rules.rule_key) as rule_last
    from resumable
    cross join rules
    left join lateral (
        select
            ledger.local_date,
            ledger.rule_day_used,
            ledger.rule_last_applied_at
        from {{ this }} as ledger
        where ledger.brand_id = resumable.brand_id
            and ledger.device_id = resumable.device_id
            and ledger.rule_key = rules.rule_key
        order by ledger.occurred_at desc, ledger.event_id desc
        limit 1
    ) as rule_row on true
    group by resumable.brand_id, resumable.device_id

),

resume_states as (

    select
        resumable.brand_id,
        resumable.device_id,
        resumable.occurred_at as resume_after_at,
        resumable.event_id as resume_after_event_id,
        resumable.after_value as resume_value,
        resumable.new_level as resume_level,
        resumable.max_level_reached as resume_max_level,
        resumable.bound_player_id as resume_bound_player,
        resumable.local_date as resume_local_date,
        resumable.global_day_used as resume_global_used,
        rule_states.rule_days as resume_rule_days,
        rule_states.rule_used as resume_rule_used,
        rule_states.rule_last as resume_rule_last
    from resumable
    inner join rule_states
        on rule_states.brand_id = resumable.brand_id
        and rule_states.device_id = resumable.device_id

),

resumed_events as (

    -- resumed devices: what follows the last replayed event (the new events, and binding
    -- changes seen earlier that came after it), read by index per device
    select
        device_events.*,
        resume_states.resume_value,
        resume_states.resume_level,
        resume_states.resume_max_level,
        resume_states.resume_bound_player,
        resume_states.resume_local_date,
        resume_states.resume_global_used,
        resume_states.resume_rule_days,
        resume_states.resume_rule_used,
        resume_states.resume_rule_last
    from resume_states
    cross join lateral (
        select * from events
        where events.brand_id = resume_states.brand_id
            and events.device_id = resume_states.device_id
            and (events.occurred_at, events.event_id)
                > (resume_states.resume_after_at, resume_states.resume_after_event_id)
    ) as device_events

),

replayed_devices as (

    -- late events, or no ledger row yet: replayed from the first event
    select touched_devices.*
    from touched_devices
    where not exists (
        select 1 from resume_states
        where resume_states.brand_id = touched_devices.brand_id
            and resume_states.device_id = touched_devices.device_id
    )

),

replayed_events as (

    select
        device_events.*,
        null::integer as resume_value,
        null::integer as resume_level,
        null::integer as resume_max_level,
        null::text as resume_bound_player,
        null::date as resume_local_date,
        null::integer as resume_global_used,
        null::date[] as resume_rule_days,
        null::integer[] as resume_rule_used,
        null::timestamptz[] as resume_rule_last
    from replayed_devices
    cross join lateral (
        select * from events
        where events.brand_id = replayed_devices.brand_id
            and events.device_id = replayed_devices.device_id
        -- keeps this a per-device index look-up instead of a join over every event
        offset 0
    ) as device_events

),

scoped_events as (

    select * from resumed_events

    union all

    select * from replayed_events

),

{% else %}

scoped_events as (

    select
        events.*,
        null::integer as resume_value,
        null::integer as resume_level,
        null::integer as resume_max_level,
        null::text as resume_bound_player,
        null::date as resume_local_date,
        null::integer as resume_global_used,
        null::date[] as resume_rule_days,
        null::integer[] as resume_rule_used,
        null::timestamptz[] as resume_rule_last
    from events

),

{% endif %}

final as (

    select
        scoped_events.brand_id,
        scoped_events.device_id,
        scoped_events.event_id,
        scoped_events.event_type,
        scoped_events.occurred_at,
        scoped_events.player_id,
        (scoped_events.occurred_at at time zone settings.timezone)::date as local_date,
        scoped_events.rule_key,
        scoped_events.source,
        scoped_events.operator_admin_id,
        scoped_events.admin_reason,
        scoped_events.requested_change,
        scoped_events.resume_value,
        scoped_events.resume_level,
        scoped_events.resume_max_level,
        scoped_events.resume_bound_player,
        scoped_events.resume_local_date,
        scoped_events.resume_global_used,
        scoped_events.resume_rule_days,
        scoped_events.resume_rule_used,
        scoped_events.resume_rule_last
    from scoped_events
    cross join settings

)

select * from final
order by brand_id, device_id, occurred_at, event_id
{% endset %}

with

rules as (

    select * from {{ ref('affinity_rules') }}

),

settings as (

    select * from {{ ref('affinity_settings') }}

),

levels as (

    select * from {{ ref('affinity_levels') }}

),

replayed as (

    select *
    from
        {{ this.schema }}.affinity_replay(
            $replay_input${{ replay_input }}$replay_input$,
            (select array_agg(rule_key order by rule_key) from rules),
            (select array_agg(is_enabled order by rule_key) from rules),
            (select array_agg(single_cap order by rule_key) from rules),
            (select array_agg(daily_cap order by rule_key) from rules),
            (
                select array_agg(make_interval(secs => cooldown_seconds) order by rule_key)
                from rules
            ),
            (select array_agg(level order by level) from levels),
            (select array_agg(min_value order by level) from levels),
            (select global_daily_cap from settings),
            (select max_affinity from settings)
        )

),

final as (

    select
        event_id::text collate "C" as event_id,
        event_type,
        occurred_at,
        local_date,
        brand_id,
        player_id,
        device_id,
        case when event_type = 'affinity.admin_adjust' then 'admin' else rule_key end
            as rule_key,
        source,
        operator_admin_id,
        admin_reason,
        outcome,
        requested_change,
        applied_change,
        before_value,
        after_value,
        old_level,
        new_level,
        rewarded_level_from,
        rewarded_level_to,
        bound_player_id,
        max_level_reached,
        rule_day_used,
        rule_last_applied_at,
        global_day_used,
        {{ batch_horizon() }}::bigint as replay_batch_id

    from replayed

)

select * from final
