-- Grain: one row per landed copy of a bet.placed or bet.settled event (batch_id, line_no).
with

events as (

    select * from {{ ref('stg_events') }}
    where event_type in ('bet.placed', 'bet.settled')

),

final as (

    select
        {{ envelope_columns() }},
        {{ json_text('payload', 'bet_id') }} as bet_id,
        {{ json_text('payload', 'game_id') }} as game_id,
        {{ json_text('payload', 'provider_id') }} as provider_id,
        {{ json_bigint('payload', 'stake_minor') }} as stake_minor,
        {{ json_bigint('payload', 'win_minor') }} as win_minor,
        {{ json_text('payload', 'currency') }} as currency,
        {{ json_bool('payload', 'in_bonus') }} as is_in_bonus

    from events

)

select * from final
