-- Grain: one row per landed copy of a jackpot.contribution event (batch_id, line_no).
with

events as (

    select * from {{ ref('stg_events') }}
    where event_type = 'jackpot.contribution'

),

final as (

    select
        {{ envelope_columns() }},
        {{ json_text('payload', 'game_id') }} as game_id,
        {{ json_bigint('payload', 'amount_minor') }} as amount_minor,
        {{ json_text('payload', 'currency') }} as currency

    from events

)

select * from final
