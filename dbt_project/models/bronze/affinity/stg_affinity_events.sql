-- Grain: one row per landed copy of a device.bound, device.unbound, affinity.triggered or
-- affinity.admin_adjust event (batch_id, line_no): the inputs of the affinity replay, typed.
with

events as (

    select * from {{ ref('stg_events') }}
    where event_type in
        ('device.bound', 'device.unbound', 'affinity.triggered', 'affinity.admin_adjust')

),

typed as (

    select
        {{ envelope_columns() }},
        {{ json_text('payload', 'device_id') }} as device_id,
        case
            when event_type = 'affinity.triggered'
                then {{ json_text('payload', 'rule_key') }}
        end as rule_key,
        -- the producer's requested change (triggered) or the operator's delta (admin_adjust);
        -- an integer beyond the bigint range is held at the range's end: the replay clamps
        -- every change to at most max_affinity anyway
        case event_type
            when 'affinity.triggered' then {{ json_numeric('payload', 'change') }}
            when 'affinity.admin_adjust' then {{ json_numeric('payload', 'delta') }}
        end as requested_change_exact,
        case
            when event_type = 'affinity.triggered'
                then {{ json_text('payload', 'source') }}
        end as source,
        case
            when event_type = 'affinity.admin_adjust'
                then {{ json_text('payload', 'operator_admin_id') }}
        end as operator_admin_id,
        case
            when event_type = 'affinity.admin_adjust'
                then {{ json_text('payload', 'reason') }}
        end as admin_reason,
        {{ payload_invalid_reason() }} as invalid_reason

    from events

),

final as (

    select
        batch_id,
        line_no,
        event_id,
        event_type,
        occurred_at,
        event_date,
        brand_id,
        region,
        player_id,
        device_id,
        rule_key,
        round(greatest(
            least(requested_change_exact, 9223372036854775807),
            -9223372036854775807
        ))::bigint as requested_change,
        source,
        operator_admin_id,
        admin_reason,
        invalid_reason

    from typed

)

select * from final
