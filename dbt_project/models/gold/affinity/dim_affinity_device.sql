-- Grain: one row per device (brand_id, device_id) that has any affinity or binding event:
-- its favorability and level after its last event, its binding, its last applied change.
-- Incremental (delete+insert on the device): the devices with events in new batches are
-- recomputed from silver; the others keep their row. Each device's facts are read backwards
-- from the (brand_id, device_id, occurred_at, event_id) indexes of silver, a few rows each.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['brand_id', 'device_id'],
        on_schema_change='fail',
        post_hook="{{ record_batch_watermark() }}",
    )
}}

with

-- not materialized: the lateral look-ups below must reach silver's indexes
events as not materialized (

    select * from {{ ref('int_affinity_events') }}

),

ledger as not materialized (

    select * from {{ ref('int_affinity_ledger') }}

),

devices as (

    select distinct brand_id, device_id
    from events
    {% if is_incremental() %}
    where batch_id > {{ batch_watermark() }}
    {% endif %}

),

final as (

    select
        devices.brand_id,
        last_bound.player_id,
        devices.device_id,
        coalesce(last_row.after_value, 0) as favorability,
        coalesce(last_row.new_level, 0) as level,
        last_applied.occurred_at as last_applied_at,
        coalesce(last_binding.event_type = 'device.bound', false) as is_bound,
        coalesce(last_row.max_level_reached, 0) as max_level_reached

    from devices
    -- the last binding event: bound or not
    left join lateral (
        select events.event_type
        from events
        where events.brand_id = devices.brand_id
            and events.device_id = devices.device_id
            and events.event_type in ('device.bound', 'device.unbound')
        order by events.occurred_at desc, events.event_id desc
        limit 1
    ) as last_binding on true
    -- the player of the last binding (the owner, or the last owner when unbound)
    left join lateral (
        select events.player_id
        from events
        where events.brand_id = devices.brand_id
            and events.device_id = devices.device_id
            and events.event_type = 'device.bound'
        order by events.occurred_at desc, events.event_id desc
        limit 1
    ) as last_bound on true
    -- the state after the device's last affinity event
    left join lateral (
        select ledger.after_value, ledger.new_level, ledger.max_level_reached
        from ledger
        where ledger.brand_id = devices.brand_id
            and ledger.device_id = devices.device_id
        order by ledger.occurred_at desc, ledger.event_id desc
        limit 1
    ) as last_row on true
    left join lateral (
        select ledger.occurred_at
        from ledger
        where ledger.brand_id = devices.brand_id
            and ledger.device_id = devices.device_id
            and ledger.outcome = 'applied'
        order by ledger.occurred_at desc, ledger.event_id desc
        limit 1
    ) as last_applied on true

)

select * from final
