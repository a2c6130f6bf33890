/** The engine's words in French, typed by the same codes and rules as the English (see en-engine.ts). */
import type { EngineMessageKey } from './en-engine.ts';

export const frEngine: Record<EngineMessageKey, string> = {
  'rule.newer-version':
    '{winner, select, hub {La version du serveur central était plus récente, elle a donc été gardée.} other {La version de cette caisse était plus récente, elle a donc été envoyée au serveur central.}}',
  'rule.newer-version-every-field':
    'La version du serveur central était plus récente dans chaque partie modifiée par cette caisse, elle a donc été gardée.',
  'rule.newer-version-per-field':
    'Les deux côtés ont modifié {fieldCount, plural, =0 {les mêmes parties de cet enregistrement} other {{fields}}} ; chaque partie a gardé sa valeur la plus récente{winner, select, hub {, et certaines modifications de cette caisse étaient plus anciennes.} other {, et les modifications de cette caisse étaient les plus récentes.}}',
  'rule.deleted-beyond-retention':
    'L’enregistrement a été supprimé sur le serveur central il y a longtemps : cette modification plus ancienne ne pouvait pas le faire revenir. La modification de cette caisse est gardée ici.',
  'rule.uncaptured-local-change':
    'La copie de cette caisse a été modifiée d’une façon que la synchronisation n’avait pas encore enregistrée : la version du serveur central a été gardée et la copie de cette caisse est gardée ici.',
  'rule.unsynced-local-copy':
    'Cette caisse avait sa propre copie de l’enregistrement d’avant la synchronisation : la version du serveur central a été gardée et la copie de cette caisse est gardée ici.',
  'rule.reconciled-newer-version':
    '{winner, select, hub {Les deux côtés ont modifié cet enregistrement pendant qu’ils étaient déconnectés ; la version du serveur central était plus récente, elle a donc été gardée.} other {Les deux côtés ont modifié cet enregistrement pendant qu’ils étaient déconnectés ; la version de cette caisse était plus récente, elle a donc été envoyée au serveur central.}}',
  'rule.unknown': '{winner, select, hub {La version du serveur central a été gardée.} other {La version de cette caisse a été gardée.}}',

  'error.hub-unreachable':
    'Impossible de joindre le serveur central du siège. Les modifications sont gardées et seront synchronisées à son retour.',
  'error.local-unreachable':
    'Impossible de joindre la base de données de cette caisse. Les modifications sont gardées et seront synchronisées à son retour.',
  'error.history-lost':
    '{side, select, hub {L’historique des modifications du serveur central} other {L’historique des modifications de cette caisse}} ne remonte plus assez loin ; une comparaison complète est nécessaire.',
  'error.read-interrupted':
    '{side, select, hub {Le serveur central} other {La base de données de cette caisse}} a interrompu une lecture en cours (il a peut-être redémarré) ; la synchronisation a repris là où elle s’était arrêtée.',
  'error.busy':
    '{side, select, hub {Une autre caisse modifiait les mêmes enregistrements sur le serveur central} other {Un autre programme modifiait les mêmes enregistrements dans la base de données de cette caisse}} au même moment ; la synchronisation a réessayé.',
  'error.hub-rejected': 'Le serveur central a refusé une modification : {detail} (code {serverCode})',
  'error.local-rejected': 'La base de données de cette caisse a refusé une modification : {detail} (code {serverCode})',
  'error.unexpected': 'Problème inattendu : {detail}',
  'error.no-hub-set':
    'Aucune chaîne de connexion au serveur central n’est définie. Saisissez-la dans les Réglages pour commencer la synchronisation.',
  'error.hub-uri-unusable': 'La chaîne de connexion au serveur central est inutilisable : {detail}.',
  'error.settings-unusable': 'Les réglages de synchronisation sont inutilisables : {detail}',

  'warning.till-clock-off':
    'L’horloge de cette caisse {direction, select, fast {avance} other {retarde}} de {offset} par rapport au siège. La synchronisation utilise l’heure du siège, les modifications restent donc dans le bon ordre ; réglez la date et l’heure de la caisse dès que possible.',
  'warning.another-engine':
    'Un autre TillSync synchronise cette caisse (appareil {device}, processus {pid} sur {host}). Celui-ci attend et prend le relais si l’autre s’arrête.',
  'warning.disk-low':
    'Le disque de cette caisse n’a plus que {freeMb, number,::unit/megabyte unit-width-short} de libre ; {offlineDays, plural, one {un jour} other {# jours}} sans le serveur central demandent environ {neededMb, number,::unit/megabyte unit-width-short} au rythme actuel des modifications. Libérez de la place sur le disque de cette caisse avant qu’il soit plein.',
  'warning.clock-drift':
    'Des modifications venant de {device} portent une heure en avance de {ahead} sur l’horloge de cette caisse. Elles sont gardées et seront appliquées quand les horloges seront d’accord. Vérifiez la date et l’heure des caisses.',

  'quarantine.unknown-change-type': 'un type de modification que la synchronisation n’applique pas ({operation})',
  'quarantine.malformed-tombstone-version': 'une suppression dont la version est illisible ({version})',
  'quarantine.malformed-sync-metadata': 'ses informations de synchronisation sont illisibles ({detail})',
  'quarantine.malformed-version': 'sa version de synchronisation est illisible ({version})',
  'quarantine.document-too-large': 'l’enregistrement dépasse la limite de 16 Mo',
  'quarantine.clock-drift':
    'faite par {device} avec {ahead} d’avance sur l’horloge de cette caisse ; gardée jusqu’à ce que les horloges soient d’accord',
  'quarantine.refused':
    '{side, select, hub {le siège} other {la base de cette caisse}} ne l’a pas acceptée : {cause, select, unique {un autre enregistrement a déjà la même valeur dans un champ qui doit être unique} validation {elle ne respecte pas les règles de validation de la base} size {elle est trop grande pour un enregistrement} value {elle contient une valeur ou un nom de champ que la base n’accepte pas} other {la base l’a refusée}} ({detail}, code {serverCode})',
  'quarantine.too-large-to-sync':
    'l’enregistrement est trop grand pour être synchronisé ({sizeMb, number} Mo ; il doit rester sous {limitMb, number} Mo)',
};
